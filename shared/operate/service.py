"""Online scoring: a FastAPI app serving the guarded bundle behind an alias.

`renkei serve` runs it with uvicorn, one app in each worker process (shared.operate.workers:
/health reports every worker). In each, a background thread checks (once a second) which
deployment the alias points at, so a promotion or rollback reaches every worker within that
second plus the new bundle's load, without a restart, and no request waits on the ledger;
each answer (and its x-renkei-worker header) says which version and worker answered.
Request rows are validated in shared.operate.rows.
A feature that is null, absent or of the wrong type is no 422: the guard decides per row
(a nullable feature's gap passes; a missing other one is rejected, or falls back by a
``required`` rule, with the reason naming it; a wrong type is rejected naming the check).
Bodies that are not rows get 422 naming the field and the problem (never 500: not JSON,
NaN, Infinity, a list or object as a value, empty lists, wrong shapes); bodies over ``service.max_body_bytes`` and requests over
``service.max_rows`` rows get 413 with the limit, refused before parsing. Every bundle is
verified against its deployment before it serves; a deployment that fails to load leaves
the last good one serving, and /health and /version say ``degraded`` and why. Every answer
carries the decision, the reasons and the model and rules versions. /predict and /version
need a bearer token (shared.trust.http: API tokens or OIDC JWTs; open only in dev mode);
/health stays open; each answer's log line names the caller. Rows go to the guard's
compiled plan as dicts (no pandas frame per request) and answers leave through orjson.
Each answer carries a request id and is captured by a separate writer process
(shared.operate.capture: the request only queues it; /health counts what was written,
dropped and sampled out); a shadow challenger attached beside the alias
(shared.operate.capture_worker) answers in that process too, never in the response.
``/predict?explain=true`` adds each answer's feature contributions (shared.guard.explain);
they are returned, never captured.
"""

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, TypeAdapter

from shared.config import ProjectConfig
from shared.config.identity import IdentitySettings
from shared.ledger import Ledger
from shared.operate.capture import Captured, CaptureWriter, new_request_id, writer_for
from shared.operate.holder import AliasHolder
from shared.operate.limits import body_limit, safe_errors
from shared.operate.rows import request_rows, row_model
from shared.operate.workers import ServeSpec, WorkerBoard, heartbeat, merge
from shared.trust.http import protect

_BODY = Body(..., description="One row (an object) or many (a list of objects).")
_EXPLAIN = Query(
    False,
    description="Add each answer's feature contributions (shared.guard.explain); costs more.",
)


class Explanation(BaseModel):
    """What drove one answer: the answering model's contributions per feature, which add
    up with ``bias`` to ``raw`` (its answer on ``scale``; see shared.model.explain)."""

    explained_by: str  # the family that answered: the model, or the baseline on fallback
    method: str  # tree_shap | integrated_gradients | rule
    scale: str
    explained_class: str | None = None  # multiclass: the predicted class
    bias: float
    raw: float
    contributions: dict[str, float]  # feature -> contribution, largest first
    rule: str | None = None  # the baseline: the rule the row met


class Answer(BaseModel):
    row_id: str
    prediction: float | None  # binary tasks: the probability
    # binary tasks: probability >= training.threshold; multiclass: the most probable class
    predicted_class: bool | str | None = None
    # multiclass tasks: every class's probability and the conformal prediction set (the
    # classes it holds); none for rejected rows
    probabilities: dict[str, float] | None = None
    prediction_set: list[str] | None = None
    # calibrated bundles: the conformal interval at intervals.coverage (binary: the
    # prediction set as [0, 0], [1, 1] or [0, 1]); absent for older bundles
    interval_low: float | None = None
    interval_high: float | None = None
    decision: str
    reasons: list[str]
    model_version: str
    rules_version: str
    # ?explain=true: what drove the answer (none for rejected rows)
    explanation: Explanation | None = None


class PredictResponse(BaseModel):
    request_id: str  # the capture's key: renkei lineage / feedback reach the answer by it
    alias: str
    model_version: str
    rules_version: str
    predictions: list[Answer]


@dataclass(frozen=True)
class Served:
    """What the routes share: the alias, what it serves, the capture writer, the limits."""

    alias: str
    holder: AliasHolder
    writer: CaptureWriter | None
    max_rows: int
    row: type[BaseModel]  # one request row, from the served (or the active) project
    board: WorkerBoard | None = None  # the workers' states (renkei serve); None: this one only
    supervised: bool = False  # one of several workers under uvicorn's supervisor
    max_explain_rows: int = 100  # rows one ?explain=true request may hold


def own_state(served: Served) -> dict[str, Any]:
    """This worker's state: what it serves, what failed, its shadow and capture counts."""
    state = served.holder.state()
    dep, _ = served.holder.get()
    counts = served.writer.counts if served.writer else None
    if counts is not None and not counts.writer_running and state["status"] == "ok":
        state["status"] = "degraded"  # answers are served but no longer captured
    return {
        **state,
        "deployment_id": dep.id if dep else None,
        # the challenger (model_version None: none attached, or capture off)
        "shadow": served.writer.shadow_state() if served.writer else None,
        "capture": counts.as_dict() if counts else None,
    }


def lifespan(served: Served) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start the alias watcher, the capture writer and the heartbeat with the app; after
    the last request (uvicorn's graceful shutdown), stop them, draining capture."""

    @asynccontextmanager
    async def span(_: FastAPI) -> AsyncIterator[None]:
        served.holder.watch()
        if served.writer is not None:
            served.writer.start()  # returns once the writer process is ready (or failed: logged)
        board, beat = served.board, None
        if served.supervised:  # Ctrl-C reaches the supervisor, which stops us with SIGTERM:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second signal would skip the drain
        if board is not None:
            beat = asyncio.create_task(
                heartbeat(board, lambda: own_state(served), served.supervised)
            )
        yield
        if beat is not None:
            beat.cancel()
        served.holder.stop()
        if served.writer is not None:
            served.writer.stop()  # writes what is queued, within capture.drain_seconds
        if board is not None:
            board.publish({**own_state(served), "status": "stopped"})

    return span


async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    """422 naming the field and the problem, never echoing the input (shared.operate.limits)."""
    return JSONResponse({"detail": safe_errors(exc.errors())}, status_code=422)


def status_router(served: Served, caller: Any) -> APIRouter:
    """/health (open: every worker's status, version, shadow and capture counts; the
    service's status is the worst of them) and /version (authenticated)."""
    router = APIRouter()
    holder = served.holder

    @router.get("/health")
    async def health() -> dict[str, Any]:
        own = own_state(served)
        return served.board.health(own) if served.board is not None else merge(own, [], 1)

    @router.get("/version", dependencies=[caller])
    async def version() -> dict[str, Any]:
        snapshot = holder.get()
        state = holder.state(snapshot)
        dep, _ = snapshot
        if dep is None:
            raise HTTPException(503, {**state, "detail": f"no model serves '{served.alias}' yet"})
        return {
            **state,
            "rules_version": dep.rules_version,
            "deployment_id": dep.id,
            "bundle_uri": dep.bundle_uri,
            "bundle_sha256": dep.bundle_sha256,
            "worker": os.getpid(),
        }

    return router


def predict_router(served: Served, caller: Any) -> APIRouter:
    """POST /predict: guarded answers for one row or many, each captured by the writer."""
    router = APIRouter()
    one, many = TypeAdapter(served.row), TypeAdapter(list[served.row])  # type: ignore[name-defined]
    worker = str(os.getpid())  # which worker answered: x-renkei-worker

    @router.post("/predict", response_model=PredictResponse)
    async def predict(
        payload: Any = _BODY, who: str = caller, explain: bool = _EXPLAIN
    ) -> Response:
        if explain:
            limit, setting = served.max_explain_rows, "service.max_explain_rows"
            rows = request_rows(payload, limit, one, many, setting)
        else:
            rows = request_rows(payload, served.max_rows, one, many)
        dep, model = served.holder.get()
        if model is None or dep is None:
            raise HTTPException(503, f"no model serves '{served.alias}' yet")
        records = [r.model_dump() for r in rows]
        # a request without a timestamp is scored as of now
        ts = model.cfg.timestamp_column
        received = datetime.now(UTC)
        now = np.datetime64(received.replace(tzinfo=None, microsecond=0), "s")
        for r in records:
            if r[ts] is None:
                r[ts] = now
        rid, answers = new_request_id(), model.predict_records(records)
        if served.writer is not None:  # never waits: a full queue drops and counts
            served.writer.offer(Captured(rid, who, received, dep.id, records, answers))
        body = {
            "request_id": rid,
            "alias": served.alias,
            "model_version": dep.version,
            "rules_version": dep.rules_version,
            "predictions": answers,
        }
        if explain:  # after the capture's offer: explanations are answered, never captured
            from shared.guard.explain import explain_records

            whys = explain_records(model, records, answers)
            body["predictions"] = [
                {**a, "explanation": w} for a, w in zip(answers, whys, strict=True)
            ]
        return Response(
            orjson.dumps(body),
            media_type="application/json",
            headers={"x-request-id": rid, "x-renkei-worker": worker},
        )

    return router


def create_app(
    ledger_url: str,
    alias: str = "production",
    check_every: float = 1.0,
    cfg: ProjectConfig | None = None,
    identity: IdentitySettings | None = None,
    spec: ServeSpec | None = None,
) -> FastAPI:
    """The scoring service for ``alias`` over the ledger at ``ledger_url``.

    ``cfg`` (the active project config) sets the request limits, and the request schema
    while nothing is served. ``spec``: one worker of ``renkei serve`` (its board).
    """
    from shared.config import load_project
    from shared.trust.release_key import release_keys

    project = cfg or load_project()
    identity = identity or IdentitySettings()
    keys = release_keys(identity, project.storage.data_root)  # what every load verifies
    ledger = Ledger.open(ledger_url)
    holder = AliasHolder(ledger, alias, check_every, keys, project.intervals.adaptive.enabled)
    holder.refresh()
    # the capture writer process holds the shadow challenger, if any, and answers for it
    writer = writer_for(project, alias, ledger_url=ledger_url, check_every=check_every, keys=keys)
    _, model = holder.get()
    row = row_model(model.cfg if model is not None else project)
    board = WorkerBoard(spec.board, spec.workers) if spec is not None else None
    supervised = spec is not None and spec.workers > 1
    limits = project.service
    served = Served(
        alias, holder, writer, limits.max_rows, row, board, supervised, limits.max_explain_rows
    )
    app = FastAPI(
        title="Renkei scoring service",
        description=f"Guarded predictions from the '{alias}' deployment.",
        lifespan=lifespan(served),
    )
    app.add_middleware(body_limit(project.service.max_body_bytes))
    authenticate = protect(app, ledger, identity, project.service.token_cache_seconds)
    caller = Depends(authenticate)  # /health: open
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.include_router(status_router(served, caller))
    app.include_router(predict_router(served, caller))
    return app


def from_env() -> FastAPI:
    """The app of one worker of ``renkei serve`` (uvicorn's factory: settings from the
    environment the serve command set, shared.operate.workers.ServeSpec)."""
    from shared.config import load_project_set

    spec = ServeSpec.from_env()
    files = load_project_set(spec.project)
    return create_app(
        spec.ledger_url, spec.alias, cfg=files.project, identity=files.roles.identity, spec=spec
    )
