"""Online scoring: a FastAPI app serving the guarded bundle behind an alias.

`renkei serve` runs it with uvicorn. Every request checks (at most once a second) which
deployment the alias points at, so a promotion or rollback is picked up without a restart.
Bad requests get 422 naming the field and the problem; every answer carries the decision,
the reasons and the model and rules versions.
"""

import math
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from fastapi import Body, FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from shared import storage
from shared.bundle import load_bundle
from shared.config import ProjectConfig
from shared.guard import GuardedModel
from shared.ledger import DeploymentRecord, Ledger

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
    decision: str
    reasons: list[str]
    model_version: str
    rules_version: str


class PredictResponse(BaseModel):
    alias: str
    model_version: str
    rules_version: str
    predictions: list[Answer]


class _Holder:
    """The guarded model of the alias's current deployment, refreshed when it moves."""

    def __init__(self, ledger: Ledger, alias: str, check_every: float) -> None:
        self.ledger, self.alias, self.check_every = ledger, alias, check_every
        self.deployment: DeploymentRecord | None = None
        self.model: GuardedModel | None = None
        self.checked = 0.0
        self.lock = threading.Lock()

    def get(self) -> tuple[DeploymentRecord | None, GuardedModel | None]:
        with self.lock:
            if time.monotonic() - self.checked >= self.check_every:
                self.checked = time.monotonic()
                dep = self.ledger.alias(self.alias)
                if dep is not None and (self.deployment is None or dep.id != self.deployment.id):
                    self.model = load_bundle(storage.read_bytes(dep.bundle_uri))
                self.deployment = dep
                if dep is None:
                    self.model = None
            return self.deployment, self.model


def create_app(ledger_url: str, alias: str = "production", check_every: float = 1.0) -> FastAPI:
    """The scoring service for ``alias`` over the ledger at ``ledger_url``."""
    ledger = Ledger.open(ledger_url)
    holder = _Holder(ledger, alias, check_every)
    dep, model = holder.get()
    if model is None:
        # no deployment yet: the request schema still comes from the project config
        from shared.config import load_project

        cfg = load_project()
    else:
        cfg = model.cfg
    Row = row_model(cfg)
    app = FastAPI(
        title="Renkei scoring service",
        description=f"Guarded predictions from the '{alias}' deployment.",
    )

    @app.get("/health")
    def health() -> dict[str, Any]:
        dep, model = holder.get()
        return {
            "status": "ok" if model is not None else "no_model",
            "alias": alias,
            "model_version": dep.version if dep else None,
        }

    @app.get("/version")
    def version() -> dict[str, Any]:
        dep, _ = holder.get()
        if dep is None:
            raise HTTPException(503, f"no model serves '{alias}' yet")
        return {
            "alias": alias,
            "model_version": dep.version,
            "rules_version": dep.rules_version,
            "deployment_id": dep.id,
            "bundle_uri": dep.bundle_uri,
        }

    one, many = TypeAdapter(Row), TypeAdapter(list[Row])

    @app.post("/predict", response_model=PredictResponse)
    def predict(
        payload: Any = _BODY,
    ) -> PredictResponse:
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
        frame = pd.DataFrame([r.model_dump() for r in rows])
        # a request without a timestamp is scored as of now
        ts = cfg.timestamp_column
        frame[ts] = frame[ts].fillna(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        out = model.predict(frame)
        answers = [
            Answer(
                row_id=str(r.row_id),
                prediction=None if math.isnan(r.prediction) else float(r.prediction),
                predicted_class=None
                if pd.isna(getattr(r, "predicted_class", None))
                else bool(r.predicted_class),
                decision=r.decision,
                reasons=[x for x in r.reasons.split("; ") if x],
                model_version=r.model_version,
                rules_version=r.rules_version,
            )
            for r in out.itertuples(index=False)
        ]
        return PredictResponse(
            alias=alias,
            model_version=dep.version,
            rules_version=dep.rules_version,
            predictions=answers,
        )

    return app
