"""Sending a flow run's OpenLineage events (START, then COMPLETE or FAIL) to the collector
the team configured, through the `openlineage-python` client's own transports.

Off unless configured the client's standard ways (OPENLINEAGE_URL, OPENLINEAGE__TRANSPORT__*,
OPENLINEAGE_CONFIG or an openlineage.yml: see shared.config.settings.lineage_configured);
then the client is never imported. A collector that is down, slow or misconfigured never
fails or stalls a run: each process waits at most DELIVERY_BUDGET_S seconds for it in all,
stops trying after the first failure, and says so in one line on stderr
("lineage events: N not delivered: ...") instead of raising. The events themselves are built
from the ledger by shared.reports.openlineage.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DELIVERY_BUDGET_S = 5.0  # a step's process waits at most this long for the collector, in all


class _Delivery:
    """This process's client and its record of what it could not deliver."""

    def __init__(self) -> None:
        self.client: Any = None
        self.spent = 0.0
        self.failed = 0
        self.reason: str | None = None

    def send(self, event: dict[str, Any]) -> None:
        if self.reason is not None:  # the collector already failed in this process
            self._undelivered(self.reason)
            return
        left = DELIVERY_BUDGET_S - self.spent
        outcome: list[BaseException | None] = []

        def deliver() -> None:
            try:
                if self.client is None:
                    from openlineage.client import OpenLineageClient

                    self.client = OpenLineageClient()
                # the transport (console, file, http, ...) as the client's config resolved it;
                # the event is plain JSON, which every transport serialises as it is
                self.client.transport.emit(event)
                outcome.append(None)
            except BaseException as e:  # noqa: BLE001 (reported below, never raised)
                outcome.append(e)

        t0 = time.monotonic()
        worker = threading.Thread(target=deliver, name="openlineage", daemon=True)
        worker.start()
        worker.join(max(left, 0.0))
        self.spent += time.monotonic() - t0
        if not outcome:
            self._undelivered(f"the collector did not answer within {DELIVERY_BUDGET_S:g} s")
        elif outcome[0] is not None:
            from shared.config.errors import one_line

            self._undelivered(one_line(outcome[0]))

    def _undelivered(self, reason: str) -> None:
        self.failed += 1
        first = self.reason is None
        self.reason = reason
        if first:
            print(
                f"lineage events: {self.failed} not delivered: {reason} (the run goes on; "
                "check the OpenLineage transport settings or the collector)",
                file=sys.stderr,
            )


_delivery = _Delivery()


def emit_run_event(
    project: Any, ledger: Any, run_pathspec: str, event_type: str, error: str | None = None
) -> None:
    """Send run ``run_pathspec``'s ``event_type`` event (START, COMPLETE, FAIL; ``error``:
    a FAIL's one-line reason) when OpenLineage is configured; never raises."""
    from shared.config.settings import lineage_configured, lineage_parent

    if not lineage_configured():
        return
    try:
        from shared.config import project_from_flow
        from shared.reports.openlineage import EventType, run_event

        cfg = project_from_flow(project)
        event = run_event(
            ledger, cfg, run_pathspec, EventType(event_type), parent=lineage_parent(), error=error
        )
    except Exception as e:  # noqa: BLE001 (a lineage event never fails the run)
        from shared.config.errors import one_line

        _delivery._undelivered(f"could not build the {event_type} event: {one_line(e)}")
        return
    _delivery.send(event)


def undelivered() -> int:
    """Events this process could not deliver (tests, and the step's own report)."""
    return _delivery.failed


@contextmanager
def started_by(run_pathspec: str) -> Iterator[None]:
    """Runs started inside this block (the monitor's retraining: a child process, whether
    started by subprocess or Metaflow's Runner, inherits the environment) name run
    ``run_pathspec`` in their OpenLineage parent-run facet."""
    import os

    from shared.config.settings import lineage_parent_environment

    added = lineage_parent_environment(run_pathspec)
    before = {k: os.environ.get(k) for k in added}
    os.environ.update(added)
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
