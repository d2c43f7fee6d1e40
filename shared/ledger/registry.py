"""The model registry: every trained family of every training run, and its lineage."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from shared.ledger import tables as orm
from shared.ledger.datasets import DatasetRepository
from shared.ledger.runs import FlowRunRecord, RunRepository
from shared.ledger.tables import ModelDataset, ModelVersion
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import LedgerError, ModelStatus, parse_version, version_label


@dataclass(frozen=True)
class ModelRegistration:
    """What the train flow registers for one candidate family."""

    family: str
    status: ModelStatus
    key_metric: str
    metrics: dict[str, float]
    slice_metrics: dict[str, dict[str, float]]
    gate_results: list[dict[str, Any]]
    baseline_metrics: dict[str, float]
    artifact_uri: str
    resources: dict[str, Any]
    task_pathspec: str | None = None


@dataclass(frozen=True)
class ModelVersionRecord:
    id: int
    family: str
    status: ModelStatus
    key_metric: str
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    slice_metrics: dict[str, dict[str, float]]
    gate_results: list[dict[str, Any]]
    artifact_uri: str
    datasets: list[str]
    git_commit: str | None
    git_dirty: bool | None
    config_hash: str
    flow_run: str
    task_pathspec: str | None
    trained_by: str
    created_at: datetime
    resources: dict[str, Any]

    @property
    def version(self) -> str:
        return version_label(self.id)

    @property
    def failing_gates(self) -> list[str]:
        return [g["name"] for g in self.gate_results if not g["passed"]]


@dataclass(frozen=True)
class LineageDataset:
    """One dataset a model was trained on, back to its raw source."""

    version: str
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    location: str
    raw_source: str
    raw_uri: str
    ingest_run: str | None
    validation_reports: int


@dataclass(frozen=True)
class Lineage:
    """A model version back to its code, config, run and raw data."""

    model: ModelVersionRecord
    datasets: list[LineageDataset]
    flow_run: FlowRunRecord | None


def model_version_record(m: orm.ModelVersion, datasets: list[str]) -> ModelVersionRecord:
    return ModelVersionRecord(
        m.id,
        m.family,
        ModelStatus(m.status),
        m.key_metric,
        m.metrics,
        m.baseline_metrics,
        m.slice_metrics,
        m.gate_results,
        m.artifact_uri,
        sorted(datasets),
        m.git_commit,
        m.git_dirty,
        m.config_hash,
        m.flow_run,
        m.task_pathspec,
        m.trained_by,
        m.created_at,
        m.resources,
    )


class RegistryRepository(Repository):
    def __init__(self, engine: Engine, datasets: DatasetRepository, runs: RunRepository) -> None:
        super().__init__(engine)
        self._datasets = datasets
        self._runs = runs

    def register(
        self,
        run_key: str,
        flow_run: str,
        registrations: list[ModelRegistration],
        datasets: list[str],
        actor: str,
        git_commit: str | None,
        git_dirty: bool | None,
        config_hash: str,
    ) -> list[ModelVersionRecord]:
        """Record every trained family of one training run, once (idempotent per run key).

        ``run_key`` is the original run's pathspec, so a resumed run that re-executes the
        registering step finds the versions already there instead of adding new ones.
        """
        with self.write() as uow:
            s = uow.session
            existing = (
                s.execute(select(ModelVersion.id).where(ModelVersion.run_key == run_key))
                .scalars()
                .all()
            )
            if not existing:
                if sum(r.status == ModelStatus.CANDIDATE for r in registrations) > 1:
                    raise LedgerError("at most one candidate may be registered per training run")
                now = utcnow()
                for r in registrations:
                    mv = ModelVersion(
                        run_key=run_key,
                        family=r.family,
                        status=ModelStatus(r.status).value,
                        key_metric=r.key_metric,
                        metrics=r.metrics,
                        slice_metrics=r.slice_metrics,
                        gate_results=r.gate_results,
                        baseline_metrics=r.baseline_metrics,
                        artifact_uri=r.artifact_uri,
                        git_commit=git_commit,
                        git_dirty=git_dirty,
                        config_hash=config_hash,
                        flow_run=flow_run,
                        task_pathspec=r.task_pathspec,
                        trained_by=actor,
                        created_at=now,
                        resources=r.resources,
                    )
                    s.add(mv)
                    s.flush()
                    for d in datasets:
                        s.add(ModelDataset(model_id=mv.id, dataset_version=d))
                    uow.audit(
                        actor,
                        "model.register",
                        version_label(mv.id),
                        {
                            "family": r.family,
                            "status": r.status,
                            "run": flow_run,
                            "datasets": datasets,
                            "failing_gates": [g["name"] for g in r.gate_results if not g["passed"]],
                        },
                    )
                    existing.append(mv.id)
        return [m for m in self.models() if m.id in set(existing)]

    def models(self, limit: int | None = None) -> list[ModelVersionRecord]:
        """Model versions, newest first (the newest ``limit`` when given)."""
        with self.read() as s:
            q = select(ModelVersion).order_by(ModelVersion.id.desc())
            if limit:
                q = q.limit(limit)
            rows = list(s.execute(q).scalars())
            links: dict[int, list[str]] = {}
            ids = [m.id for m in rows]
            if ids:
                link_q = select(ModelDataset.model_id, ModelDataset.dataset_version)
                if limit:
                    link_q = link_q.where(ModelDataset.model_id.in_(ids))
                for mid, dv in s.execute(link_q):
                    links.setdefault(mid, []).append(dv)
            return [model_version_record(m, links.get(m.id, [])) for m in rows]

    def model(self, version: str | int) -> ModelVersionRecord:
        mid = parse_version(version)
        with self.read() as s:
            missing = f"no model version {version_label(mid)} in the ledger"
            m = self.row(s, ModelVersion, mid, missing)
            links = s.execute(
                select(ModelDataset.dataset_version).where(ModelDataset.model_id == mid)
            ).scalars()
            return model_version_record(m, list(links))

    def lineage(self, version: str | int) -> Lineage:
        """The model version, the datasets it was trained on back to their raw sources."""
        m = self.model(version)
        datasets = []
        for dv in m.datasets:
            d = self._datasets.get(dv)
            datasets.append(
                LineageDataset(
                    version=d.version,
                    rows_in=d.rows_in,
                    rows_valid=d.rows_valid,
                    rows_quarantined=d.rows_quarantined,
                    location=d.location,
                    raw_source=d.source,
                    raw_uri=d.raw_uri,
                    ingest_run=d.flow_run,
                    validation_reports=self._datasets.report_count(dv),
                )
            )
        return Lineage(m, datasets, self._runs.get(m.flow_run))
