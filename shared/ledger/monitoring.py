"""Monitoring reports: what each monitor run checked, and whether it started a retraining."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from shared.ledger import tables as orm
from shared.ledger.tables import MonitoringReport
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import parse_version, version_label


@dataclass(frozen=True)
class MonitoringRecord:
    id: int
    flow_run: str | None
    version: str
    batches: list[int]
    rows: int
    label_coverage: float
    checks: list[dict[str, Any]]
    retrain: bool
    reasons: list[str]
    retrain_run: str | None
    created_at: datetime


def monitoring_report_record(r: orm.MonitoringReport) -> MonitoringRecord:
    return MonitoringRecord(
        r.id,
        r.flow_run,
        version_label(r.model_id),
        r.batches,
        r.rows,
        r.label_coverage,
        r.checks,
        r.retrain,
        r.reasons,
        r.retrain_run,
        r.created_at,
    )


class MonitoringRepository(Repository):
    def record(
        self,
        flow_run: str | None,
        version: str,
        batches: list[int],
        rows: int,
        label_coverage: float,
        checks: list[dict[str, object]],
        retrain: bool,
        reasons: list[str],
        actor: str,
    ) -> MonitoringRecord:
        with self.write() as uow:
            r = MonitoringReport(
                flow_run=flow_run,
                model_id=parse_version(version),
                batches=batches,
                rows=rows,
                label_coverage=label_coverage,
                checks=checks,
                retrain=retrain,
                reasons=reasons,
                retrain_run=None,
                created_at=utcnow(),
            )
            uow.session.add(r)
            uow.session.flush()
            uow.audit(
                actor,
                "monitoring.report",
                version_label(r.model_id),
                {"report": r.id, "retrain": retrain, "reasons": reasons, "batches": batches},
            )
            return monitoring_report_record(r)

    def set_retrain_run(self, report_id: int, run: str, actor: str) -> None:
        with self.write() as uow:
            missing = f"no monitoring report {report_id}"
            r = self.row(uow.session, MonitoringReport, report_id, missing)
            r.retrain_run = run
            uow.audit(actor, "retrain.triggered", run, {"report": report_id, "reasons": r.reasons})

    def reports(self) -> list[MonitoringRecord]:
        with self.read() as s:
            rows = s.execute(select(MonitoringReport).order_by(MonitoringReport.id)).scalars()
            return [monitoring_report_record(r) for r in rows]
