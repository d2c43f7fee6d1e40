"""Operations: scoring batches (with their lineage) and the feedback that arrives later."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict

import pandas as pd
from sqlalchemy import Engine, insert, select

from shared.ledger import mapping
from shared.ledger.models import Deployment as DeploymentRow
from shared.ledger.models import Feedback, FeedbackBatch, ScoringBatch
from shared.ledger.records import (
    BatchLineage,
    FeedbackBatchRecord,
    FeedbackEntry,
    ScoringBatchRecord,
)
from shared.ledger.registry import RegistryRepository
from shared.ledger.releases import ReleaseRepository
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import FeedbackStatus, version_label

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
            return mapping.scoring_batch(b)

    def scoring_batches(self) -> list[ScoringBatchRecord]:
        with self.read() as s:
            rows = s.execute(select(ScoringBatch).order_by(ScoringBatch.id)).scalars()
            return [mapping.scoring_batch(b) for b in rows]

    def scoring_batch(self, batch_id: int) -> ScoringBatchRecord:
        with self.read() as s:
            b = self.row(s, ScoringBatch, batch_id, f"no scoring batch {batch_id}")
            return mapping.scoring_batch(b)

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
            return mapping.feedback_batch(fb)

    def feedback_batches(self) -> list[FeedbackBatchRecord]:
        with self.read() as s:
            rows = s.execute(select(FeedbackBatch).order_by(FeedbackBatch.id)).scalars()
            return [mapping.feedback_batch(b) for b in rows]

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
