"""Operations: scoring batches (with their lineage) and the feedback that arrives later."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, insert, select

from shared.ledger import tables as orm
from shared.ledger.registry import LineageDataset, ModelVersionRecord, RegistryRepository
from shared.ledger.releases import DeploymentRecord, ReleaseRepository
from shared.ledger.runs import FlowRunRecord
from shared.ledger.tables import Deployment as DeploymentRow
from shared.ledger.tables import Feedback, FeedbackBatch, ScoringBatch
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import FeedbackStatus, version_label


@dataclass(frozen=True)
class ScoringBatchRecord:
    id: int
    flow_run: str | None
    input_source: str
    input_uri: str
    input_sha256: str
    deployment_id: int
    version: str
    rules_version: str
    output_uri: str
    rows: int
    decisions: dict[str, int]
    created_by: str
    created_at: datetime


@dataclass(frozen=True)
class BatchLineage:
    """A scoring batch back to its input, deployment, model, training run and datasets."""

    batch: ScoringBatchRecord
    deployment: DeploymentRecord
    model: ModelVersionRecord
    training_run: FlowRunRecord | None
    datasets: list[LineageDataset]


@dataclass(frozen=True)
class FeedbackEntry:
    """One arriving true value for one scored row, with what happened to it."""

    row_id: str
    value: float | None
    status: FeedbackStatus
    flagged: bool = False
    note: str = ""
    scoring_batch_id: int | None = None
    request_id: str | None = None  # an online answer's (shared.operate.capture), not a batch's


@dataclass(frozen=True)
class FeedbackBatchRecord:
    id: int
    source: str
    rows: int
    accepted: int
    late: int
    duplicates: int
    unknown: int
    invalid: int
    actor: str
    created_at: datetime


def scoring_batch_record(b: orm.ScoringBatch) -> ScoringBatchRecord:
    return ScoringBatchRecord(
        b.id,
        b.flow_run,
        b.input_source,
        b.input_uri,
        b.input_sha256,
        b.deployment_id,
        version_label(b.model_id),
        b.rules_version,
        b.output_uri,
        b.rows,
        b.decisions,
        b.created_by,
        b.created_at,
    )


def feedback_batch_record(b: orm.FeedbackBatch) -> FeedbackBatchRecord:
    return FeedbackBatchRecord(
        b.id,
        b.source,
        b.rows,
        b.accepted,
        b.late,
        b.duplicates,
        b.unknown,
        b.invalid,
        b.actor,
        b.created_at,
    )


USABLE_FEEDBACK = (FeedbackStatus.ACCEPTED, FeedbackStatus.LATE)


class OperationsRepository(Repository):
    def __init__(
        self, engine: Engine, registry: RegistryRepository, releases: ReleaseRepository
    ) -> None:
        super().__init__(engine)
        self._registry = registry
        self._releases = releases

    def record_scoring_batch(
        self,
        flow_run: str | None,
        input_source: str,
        input_uri: str,
        input_sha256: str,
        deployment_id: int,
        output_uri: str,
        rows: int,
        decisions: dict[str, int],
        actor: str,
    ) -> ScoringBatchRecord:
        with self.write() as uow:
            s = uow.session
            dep = self.row(s, DeploymentRow, deployment_id, f"no deployment {deployment_id}")
            b = ScoringBatch(
                flow_run=flow_run,
                input_source=input_source,
                input_uri=input_uri,
                input_sha256=input_sha256,
                deployment_id=deployment_id,
                model_id=dep.model_id,
                rules_version=dep.rules_version,
                output_uri=output_uri,
                rows=rows,
                decisions=decisions,
                created_by=actor,
                created_at=utcnow(),
            )
            s.add(b)
            s.flush()
            details = {"version": version_label(dep.model_id), "rows": rows, "decisions": decisions}
            uow.audit(actor, "scoring.batch", f"batch-{b.id}", details)
            return scoring_batch_record(b)

    def scoring_batches(self) -> list[ScoringBatchRecord]:
        with self.read() as s:
            rows = s.execute(select(ScoringBatch).order_by(ScoringBatch.id)).scalars()
            return [scoring_batch_record(b) for b in rows]

    def scoring_batch(self, batch_id: int) -> ScoringBatchRecord:
        with self.read() as s:
            b = self.row(s, ScoringBatch, batch_id, f"no scoring batch {batch_id}")
            return scoring_batch_record(b)

    def batch_lineage(self, batch_id: int) -> BatchLineage:
        """A scoring batch back to its input, the deployment (rules + model), the model's
        training run and datasets, and their raw sources."""
        b = self.scoring_batch(batch_id)
        dep = self._releases.deployment(b.deployment_id)
        lin = self._registry.lineage(b.version)
        return BatchLineage(b, dep, lin.model, lin.flow_run, lin.datasets)

    def record_feedback(
        self, source: str, entries: list[FeedbackEntry], actor: str
    ) -> FeedbackBatchRecord:
        """Keep every feedback row with its status (accepted, late, duplicate, unknown,
        invalid); nothing is dropped."""
        counts = Counter(FeedbackStatus(e.status).value for e in entries)
        now = utcnow()
        with self.write() as uow:
            s = uow.session
            fb = FeedbackBatch(
                source=source,
                rows=len(entries),
                accepted=counts[FeedbackStatus.ACCEPTED],
                late=counts[FeedbackStatus.LATE],
                duplicates=counts[FeedbackStatus.DUPLICATE],
                unknown=counts[FeedbackStatus.UNKNOWN],
                invalid=counts[FeedbackStatus.INVALID],
                actor=actor,
                created_at=now,
            )
            s.add(fb)
            s.flush()
            if entries:
                rows = [
                    {
                        **asdict(e),
                        "status": FeedbackStatus(e.status).value,
                        "feedback_batch_id": fb.id,
                        "actor": actor,
                        "created_at": now,
                    }
                    for e in entries
                ]
                s.execute(insert(Feedback), rows)
            uow.audit(actor, "feedback.record", source, dict(counts))
            return feedback_batch_record(fb)

    def feedback_batches(self) -> list[FeedbackBatchRecord]:
        with self.read() as s:
            rows = s.execute(select(FeedbackBatch).order_by(FeedbackBatch.id)).scalars()
            return [feedback_batch_record(b) for b in rows]

    def labelled_rows(self) -> pd.DataFrame:
        """Usable feedback (accepted or late): row_id, value, scoring batch (or the online
        request), flagged, when."""
        with self.read() as s:
            rows = s.execute(
                select(
                    Feedback.row_id,
                    Feedback.value,
                    Feedback.scoring_batch_id,
                    Feedback.request_id,
                    Feedback.flagged,
                    Feedback.actor,
                    Feedback.created_at,
                )
                .where(Feedback.status.in_([f.value for f in USABLE_FEEDBACK]))
                .order_by(Feedback.id)
            ).all()
        return pd.DataFrame(
            rows,
            columns=[
                "row_id",
                "value",
                "scoring_batch_id",
                "request_id",
                "flagged",
                "actor",
                "created_at",
            ],
        )
