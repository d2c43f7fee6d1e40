"""Online scoring: a FastAPI app serving the guarded bundle behind an alias.

`renkei serve` runs it with uvicorn. A background thread checks (once a second) which
deployment the alias points at, so a promotion or rollback is picked up without a restart
and no request waits on the ledger.
Bad requests get 422 naming the field and the problem (never 500: NaN, Infinity, empty
lists, wrong shapes); bodies over ``service.max_body_bytes`` and requests over
``service.max_rows`` rows get 413 with the limit, refused before parsing. Every bundle is
verified against its deployment before it serves; a deployment that fails to load leaves
the last good one serving, and /health and /version say ``degraded`` and why. Every answer
carries the decision, the reasons and the model and rules versions. /predict and /version
need a bearer token (shared.trust.http: API tokens or OIDC JWTs; open only in dev mode);
/health stays open; each answer's log line names the caller. Rows go to the guard's
compiled plan as dicts (no pandas frame per request) and answers leave through orjson.
Each answer carries a request id and is captured in the background (shared.operate.capture;
/health counts what was written, dropped and sampled out); a shadow challenger attached
beside the alias (shared.operate.shadow) answers there too, never in the response.
"""

import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from fastapi import Body, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model
from sqlalchemy.exc import SQLAlchemyError

from shared.config import ProjectConfig
from shared.guard import GuardedModel
from shared.guard.bundle import BundleError, load_deployed
from shared.ledger import DeploymentRecord, Ledger, LedgerError
from shared.ledger.shadows import shadow_alias
from shared.operate.capture import Captured, new_request_id, writer_for
from shared.operate.limits import body_limit, safe_errors
from shared.trust.http import protect
from shared.trust.settings import IdentitySettings

_BODY = Body(..., description="One row (an object) or many (a list of objects).")
_PY_TYPES: dict[str, Any] = {"float": float, "int": int, "bool": bool, "category": str, "str": str}


def row_model(cfg: ProjectConfig) -> type[BaseModel]:
    """Pydantic model of one request row, from the project's features."""
    fields: dict[str, Any] = {
        cfg.id_column: (str | None, None),
        cfg.timestamp_column: (str | None, None),
    }
    for name, spec in cfg.features.items():
        fields[name] = (_PY_TYPES[spec.type], ...)
    return create_model(
        "PredictRow", __config__=ConfigDict(extra="ignore", allow_inf_nan=False), **fields
    )


class Answer(BaseModel):
    row_id: str
    prediction: float | None  # binary tasks: the probability
    predicted_class: bool | None = None  # binary tasks: probability >= training.threshold
    # calibrated bundles: the conformal interval at intervals.coverage (binary: the
    # prediction set as [0, 0], [1, 1] or [0, 1]); absent for older bundles
    interval_low: float | None = None
    interval_high: float | None = None
    decision: str
    reasons: list[str]
    model_version: str
    rules_version: str


class PredictResponse(BaseModel):
    request_id: str  # the capture's key: renkei lineage / feedback reach the answer by it
    alias: str
    model_version: str
    rules_version: str
    predictions: list[Answer]


@dataclass(frozen=True)
class _Failure:
    deployment_id: int
    model_version: str
    reason: str


class _Holder:
    """The guarded model of the alias's deployment, refreshed when the alias moves.

    :meth:`refresh` runs in a background thread every ``check_every`` seconds (see
    :meth:`watch`); requests read the last snapshot and never wait on the ledger. A
    deployment that fails to load (missing, swapped or corrupt bundle, unreachable ledger)
    never replaces the one being served: the last good one keeps answering and the failure
    is kept for /health and /version (degraded).
    """

    def __init__(self, ledger: Ledger, alias: str, check_every: float) -> None:
        self.ledger, self.alias, self.check_every = ledger, alias, check_every
        self.deployment: DeploymentRecord | None = None
        self.model: GuardedModel | None = None
        self.failure: _Failure | None = None
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

    def watch(self) -> threading.Thread:
        """Refresh every ``check_every`` seconds in a daemon thread until :meth:`stop`."""

        def loop() -> None:
            while not self._stop.wait(self.check_every):
                self.refresh()

        thread = threading.Thread(target=loop, name=f"renkei-alias-{self.alias}", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _refresh(self) -> None:
        try:
            dep = self.ledger.releases.alias(self.alias)
        except (LedgerError, SQLAlchemyError) as e:
            self.failure = _Failure(-1, "?", f"cannot read the ledger: {_one_line(e)}")
            return
        if dep is None:
            self.deployment, self.model, self.failure = None, None, None
            return
        if self.deployment is not None and dep.id == self.deployment.id:
            self.failure = None
            return
        if self.failure is not None and self.failure.deployment_id == dep.id:
            return  # already refused: keep serving the last good one
        try:
            model = load_deployed(dep)
        except (BundleError, OSError, ValueError) as e:
            self.failure = _Failure(dep.id, dep.version, _one_line(e))
            return
        self.deployment, self.model, self.failure = dep, model, None

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
        }
        if failure is not None:
            f = failure
            out["failed"] = {
                "deployment_id": f.deployment_id,
                "model_version": f.model_version,
                "reason": f.reason,
            }
        return out


def _shadow_answers(shadow: _Holder) -> Callable[[list[dict[str, Any]]], Any]:
    """The capture writer's hook: the shadow challenger's answers (None when none)."""

    def answer(records: list[dict[str, Any]]) -> tuple[int, list[dict[str, Any]]] | None:
        dep, model = shadow.get()
        return None if dep is None or model is None else (dep.id, model.predict_records(records))

    return answer


def _one_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def create_app(
    ledger_url: str,
    alias: str = "production",
    check_every: float = 1.0,
    cfg: ProjectConfig | None = None,
    identity: IdentitySettings | None = None,
) -> FastAPI:
    """The scoring service for ``alias`` over the ledger at ``ledger_url``.

    ``cfg`` (the active project config) sets the request limits, and the request schema
    while nothing is served.
    """
    from shared.config import load_project

    project = cfg or load_project()
    ledger = Ledger.open(ledger_url)
    holder = _Holder(ledger, alias, check_every)
    holder.refresh()
    shadow = _Holder(ledger, shadow_alias(alias), check_every)  # the challenger, if any
    shadow.refresh()
    writer = writer_for(project, alias, shadow=_shadow_answers(shadow))
    dep, model = holder.get()
    schema_cfg = model.cfg if model is not None else project
    max_rows = project.service.max_rows
    Row = row_model(schema_cfg)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.watch()
        shadow.watch()
        if writer is not None:
            writer.start()
        yield
        holder.stop()
        shadow.stop()
        if writer is not None:
            writer.stop()  # writes what is still queued

    app = FastAPI(
        title="Renkei scoring service",
        description=f"Guarded predictions from the '{alias}' deployment.",
        lifespan=lifespan,
    )
    app.add_middleware(body_limit(project.service.max_body_bytes))
    caller = Depends(protect(app, ledger, identity or IdentitySettings()))  # /health: open

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {
            **holder.state(),
            "shadow": shadow.state(),  # the challenger (model_version None: none attached)
            "capture": writer.counts.as_dict() if writer else None,
        }

    @app.get("/version", dependencies=[caller])
    async def version() -> dict[str, Any]:
        snapshot = holder.get()
        state = holder.state(snapshot)
        dep, _ = snapshot
        if dep is None:
            raise HTTPException(503, {**state, "detail": f"no model serves '{alias}' yet"})
        return {
            **state,
            "rules_version": dep.rules_version,
            "deployment_id": dep.id,
            "bundle_uri": dep.bundle_uri,
            "bundle_sha256": dep.bundle_sha256,
        }

    one, many = TypeAdapter(Row), TypeAdapter(list[Row])

    @app.post("/predict", response_model=PredictResponse)
    async def predict(payload: Any = _BODY, who: str = caller) -> Response:
        if isinstance(payload, list):
            if not payload:
                raise RequestValidationError(
                    [
                        {
                            "loc": ("body",),
                            "msg": "empty list: send at least one row",
                            "type": "too_short",
                        }
                    ]
                )
            if len(payload) > max_rows:
                raise HTTPException(
                    413,
                    f"{len(payload):,} rows in one request, at most {max_rows:,} "
                    "(service.max_rows): split the request",
                )
        try:
            rows = (
                many.validate_python(payload)
                if isinstance(payload, list)
                else [one.validate_python(payload)]
            )
        except ValidationError as e:
            raise RequestValidationError(
                [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
            ) from None
        dep, model = holder.get()
        if model is None or dep is None:
            raise HTTPException(503, f"no model serves '{alias}' yet")
        records = [r.model_dump() for r in rows]
        # a request without a timestamp is scored as of now
        ts = model.cfg.timestamp_column
        received = datetime.now(UTC)
        now = np.datetime64(received.replace(tzinfo=None, microsecond=0), "s")
        for r in records:
            if r[ts] is None:
                r[ts] = now
        rid, answers = new_request_id(), model.predict_records(records)
        if writer is not None:  # never waits: a full queue drops and counts
            writer.offer(Captured(rid, who, received, dep.id, records, answers))
        body = {
            "request_id": rid,
            "alias": alias,
            "model_version": dep.version,
            "rules_version": dep.rules_version,
            "predictions": answers,
        }
        return Response(
            orjson.dumps(body), media_type="application/json", headers={"x-request-id": rid}
        )

    return app
