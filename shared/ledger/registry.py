"""The model registry: every trained family of every training run, and its lineage."""

from __future__ import annotations

from sqlalchemy import Engine, select

from shared.ledger import mapping
from shared.ledger.datasets import DatasetRepository
from shared.ledger.models import ModelDataset, ModelVersion
from shared.ledger.records import Lineage, LineageDataset, ModelRegistration, ModelVersionRecord
from shared.ledger.runs import RunRepository
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import LedgerError, ModelStatus, parse_version, version_label


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
            return [mapping.model_version(m, links.get(m.id, [])) for m in rows]

    def model(self, version: str | int) -> ModelVersionRecord:
        mid = parse_version(version)
        with self.read() as s:
            missing = f"no model version {version_label(mid)} in the ledger"
            m = self.row(s, ModelVersion, mid, missing)
            links = s.execute(
                select(ModelDataset.dataset_version).where(ModelDataset.model_id == mid)
            ).scalars()
            return mapping.model_version(m, list(links))

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
