"""Adaptive interval updates: each move of an alias's interval quantile from arriving labels
(shared.model.adaptive computes it, shared.operate.adapt records it), with the audit entry
``intervals.adapt`` that shared.trust replays the rows against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.ledger.tables import IntervalUpdate
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import version_label

ADAPT_ACTION = "intervals.adapt"


@dataclass(frozen=True)
class IntervalUpdateRecord:
    id: int
    alias: str
    deployment_id: int
    version: str
    feedback_batch_id: int | None
    labels: int
    covered: int  # of ``labels``, inside the intervals the old quantile gave
    old_factor: float
    new_factor: float
    old_quantile: float  # the model's calibrated quantile times the factor
    new_quantile: float
    actor: str
    created_at: datetime


@dataclass(frozen=True)
class NewIntervalUpdate:
    """What one adaptive update writes (the ids and numbers the record will carry)."""

    alias: str
    deployment_id: int
    model_id: int
    feedback_batch_id: int | None
    labels: int
    covered: int
    old_factor: float
    new_factor: float
    old_quantile: float
    new_quantile: float


def interval_update_record(r: IntervalUpdate) -> IntervalUpdateRecord:
    return IntervalUpdateRecord(
        r.id,
        r.alias,
        r.deployment_id,
        version_label(r.model_id),
        r.feedback_batch_id,
        r.labels,
        r.covered,
        r.old_factor,
        r.new_factor,
        r.old_quantile,
        r.new_quantile,
        r.actor,
        r.created_at,
    )


class IntervalRepository(Repository):
    def record(self, new: NewIntervalUpdate, actor: str) -> IntervalUpdateRecord:
        """Keep one update and its audit entry (when, labels used, old and new quantile)."""
        with self.write() as uow:
            r = IntervalUpdate(
                alias=new.alias,
                deployment_id=new.deployment_id,
                model_id=new.model_id,
                feedback_batch_id=new.feedback_batch_id,
                labels=new.labels,
                covered=new.covered,
                old_factor=new.old_factor,
                new_factor=new.new_factor,
                old_quantile=new.old_quantile,
                new_quantile=new.new_quantile,
                actor=actor,
                created_at=utcnow(),
            )
            uow.session.add(r)
            uow.session.flush()
            uow.audit(
                actor,
                ADAPT_ACTION,
                new.alias,
                {
                    "update": r.id,
                    "deployment": new.deployment_id,
                    "version": version_label(new.model_id),
                    "feedback_batch": new.feedback_batch_id,
                    "labels": new.labels,
                    "covered": new.covered,
                    "old_factor": new.old_factor,
                    "new_factor": new.new_factor,
                    "old_quantile": new.old_quantile,
                    "new_quantile": new.new_quantile,
                },
            )
            return interval_update_record(r)

    def latest(self, alias: str, deployment_id: int) -> IntervalUpdateRecord | None:
        """The newest update of ``alias`` while it serves ``deployment_id`` (None: the
        calibrated quantile, factor 1)."""
        with self.read() as s:
            r = s.execute(
                select(IntervalUpdate)
                .where(IntervalUpdate.alias == alias, IntervalUpdate.deployment_id == deployment_id)
                .order_by(IntervalUpdate.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return None if r is None else interval_update_record(r)

    def updates(self, alias: str | None = None) -> list[IntervalUpdateRecord]:
        """Every update (of ``alias``), oldest first."""
        with self.read() as s:
            q = select(IntervalUpdate).order_by(IntervalUpdate.id)
            if alias is not None:
                q = q.where(IntervalUpdate.alias == alias)
            return [interval_update_record(r) for r in s.execute(q).scalars()]
