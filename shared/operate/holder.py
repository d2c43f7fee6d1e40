"""Operate: what an alias serves, held in memory and refreshed in the background.

The scoring service holds production's deployment this way, and the capture writer process
holds the shadow challenger's (shared.operate.capture_worker); neither waits on the ledger
per request.

The guard (and the model families under it) is imported on the first refresh, not with
this module: importing the service stays light (tests/unit/test_layers.py holds the count).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from shared.ledger import DeploymentRecord, Ledger, LedgerError

if TYPE_CHECKING:
    from shared.guard import GuardedModel
    from shared.guard.bundle_sign import ReleaseKeys


@dataclass(frozen=True)
class Failure:
    deployment_id: int
    model_version: str
    reason: str


class AliasHolder:
    """The guarded model of the alias's deployment, refreshed when the alias moves.

    :meth:`refresh` runs in a background thread every ``check_every`` seconds (see
    :meth:`watch`); requests read the last snapshot and never wait on the ledger. A
    deployment that fails to load (missing, swapped or corrupt bundle, unreachable ledger)
    never replaces the one being served: the last good one keeps answering and the failure
    is kept for /health and /version (degraded). Each bundle loaded is verified: its digest,
    and its OpenSSF signature by a release key in ``keys`` (roles.yaml).
    """

    def __init__(
        self,
        ledger: Ledger,
        alias: str,
        check_every: float,
        keys: ReleaseKeys,
        adaptive: bool = True,
    ) -> None:
        self.ledger, self.alias, self.check_every = ledger, alias, check_every
        self.keys = keys
        self.deployment: DeploymentRecord | None = None
        self.model: GuardedModel | None = None
        # adaptive intervals (shared.operate.adapt): the bundle's model as loaded, and the
        # interval update it answers with (None: the calibrated quantile)
        self.adaptive = adaptive
        self.loaded: GuardedModel | None = None
        self.update_id: int | None = None
        self.factor = 1.0
        self.failure: Failure | None = None
        self.lock = threading.Lock()  # one refresh at a time
        self._stop = threading.Event()
        self._snapshot: tuple[DeploymentRecord | None, GuardedModel | None] = (None, None)

    def get(self) -> tuple[DeploymentRecord | None, GuardedModel | None]:
        """The deployment served and its guarded model (one snapshot: they belong together)."""
        return self._snapshot

    def refresh(self) -> None:
        with self.lock:
            self._refresh()
            self._snapshot = (self.deployment, self.model)

    def watch(self, after: Callable[[], None] | None = None) -> threading.Thread:
        """Refresh every ``check_every`` seconds in a daemon thread until :meth:`stop`
        (calling ``after`` after each refresh)."""

        def loop() -> None:
            while not self._stop.wait(self.check_every):
                self.refresh()
                if after is not None:
                    after()

        thread = threading.Thread(target=loop, name=f"renkei-alias-{self.alias}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _refresh(self) -> None:
        try:
            dep = self.ledger.releases.alias(self.alias)
        except (LedgerError, SQLAlchemyError) as e:
            self.failure = Failure(-1, "?", f"cannot read the ledger: {one_line(e)}")
            return
        if dep is None:
            self.deployment, self.model, self.failure = None, None, None
            return
        if self.deployment is not None and dep.id == self.deployment.id:
            self.failure = None
            self._adapt()
            return
        if self.failure is not None and self.failure.deployment_id == dep.id:
            return  # already refused: keep serving the last good one
        from shared.guard.bundle import BundleError, load_deployed

        try:
            model = load_deployed(dep, self.keys)
        except (BundleError, OSError, ValueError) as e:
            self.failure = Failure(dep.id, dep.version, one_line(e))
            return
        self.deployment, self.model, self.failure = dep, model, None
        self.loaded, self.update_id, self.factor = model, None, 1.0
        self._adapt()

    def _adapt(self) -> None:
        """Answer with the alias's newest interval update (checked with the alias, so it
        reaches requests within ``check_every``); an unreadable ledger keeps the last one."""
        if not self.adaptive or self.deployment is None or self.loaded is None:
            return
        try:
            last = self.ledger.intervals.latest(self.alias, self.deployment.id)
        except (LedgerError, SQLAlchemyError):
            return
        uid = None if last is None else last.id
        if uid == self.update_id:
            return
        from shared.operate.adapt import with_factor

        self.factor = 1.0 if last is None else last.new_factor
        self.model, self.update_id = with_factor(self.loaded, self.factor), uid

    def state(
        self, snapshot: tuple[DeploymentRecord | None, GuardedModel | None] | None = None
    ) -> dict[str, Any]:
        """What /health and /version report: status, what is served, what failed and why."""
        dep, model = snapshot or self.get()
        failure = self.failure
        status = "ok" if model is not None else "no_model"
        if failure is not None:
            status = "degraded"
        out: dict[str, Any] = {
            "status": status,
            "alias": self.alias,
            "model_version": dep.version if dep else None,
            # adaptive intervals: the factor on the calibrated quantile, and its update
            "intervals": {"factor": self.factor, "update": self.update_id},
        }
        if failure is not None:
            f = failure
            out["failed"] = {
                "deployment_id": f.deployment_id,
                "model_version": f.model_version,
                "reason": f.reason,
            }
        return out


def one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
