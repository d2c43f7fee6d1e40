"""Dataset versions, their validation reports and quarantine reasons, and label batches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from shared.ledger import tables as orm
from shared.ledger.tables import Dataset, LabelBatch, Quarantine, ValidationReport
from shared.ledger.unit import Repository, UnitOfWork, utcnow
from shared.ledger.vocab import LedgerError

if TYPE_CHECKING:  # the data package does not import the ledger; keep it that way at run time
    import pandas as pd  # reasons arrive as frames; the CLI and the service never load pandas for it

    from shared.data.ingest import IngestOutcome


@dataclass(frozen=True)
class DatasetRecord:
    version: str
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    location: str
    source: str
    raw_uri: str
    created_by: str
    created_at: datetime
    flow_run: str | None


@dataclass(frozen=True)
class ValidationReportRecord:
    id: int
    dataset_version: str
    flow_run: str | None
    rows_in: int
    rows_valid: int
    rows_quarantined: int
    passed: bool
    quarantine_uri: str


@dataclass(frozen=True)
class IngestRecord:
    dataset_version: str
    dataset_created: bool
    report_id: int


@dataclass(frozen=True)
class QuarantineExample:
    row: int
    value: str | None


@dataclass(frozen=True)
class QuarantineCheck:
    column: str
    check: str
    rows: int
    examples: list[QuarantineExample]


@dataclass(frozen=True)
class QuarantineSummary:
    dataset_version: str
    rows_quarantined: int
    by_check: list[QuarantineCheck]


@dataclass(frozen=True)
class LabelBatchRecord:
    id: int
    uri: str
    rows: int
    source: str
    dataset_version: str | None
    recorded_by: str
    created_at: datetime


def dataset_record(d: orm.Dataset) -> DatasetRecord:
    return DatasetRecord(
        d.version,
        d.rows_in,
        d.rows_valid,
        d.rows_quarantined,
        d.location,
        d.source,
        d.raw_uri,
        d.created_by,
        d.created_at,
        d.flow_run,
    )


def report_record(r: orm.ValidationReport) -> ValidationReportRecord:
    return ValidationReportRecord(
        r.id,
        r.dataset_version,
        r.flow_run,
        r.rows_in,
        r.rows_valid,
        r.rows_quarantined,
        r.passed,
        r.quarantine_uri,
    )


def label_batch_record(b: orm.LabelBatch) -> LabelBatchRecord:
    return LabelBatchRecord(
        b.id, b.uri, b.rows, b.source, b.dataset_version, b.recorded_by, b.created_at
    )


class DatasetRepository(Repository):
    def record_ingest(
        self,
        outcome: IngestOutcome,
        reasons: pd.DataFrame,
        actor: str,
        flow_run: str | None = None,
    ) -> IngestRecord:
        """Record a dataset version (once), its validation report and quarantine reasons.

        Idempotent per dataset version and ingest run: a resumed or rerun step of the same
        run returns the report it already recorded instead of adding a second one.
        """
        now = utcnow()
        with self.write() as uow:
            s = uow.session
            existing = s.get(Dataset, outcome.dataset_version)
            if flow_run is not None:
                done = s.execute(
                    select(ValidationReport.id).where(
                        ValidationReport.dataset_version == outcome.dataset_version,
                        ValidationReport.flow_run == flow_run,
                    )
                ).scalar()
                if done is not None:
                    mine = existing is not None and existing.flow_run == flow_run
                    return IngestRecord(outcome.dataset_version, mine, done)
            created = existing is None
            if created:
                s.add(
                    Dataset(
                        version=outcome.dataset_version,
                        rows_in=outcome.rows_in,
                        rows_valid=outcome.rows_valid,
                        rows_quarantined=outcome.rows_quarantined,
                        location=outcome.dataset_uri,
                        source=outcome.raw.source,
                        raw_uri=outcome.raw.uri,
                        raw_sha256=outcome.raw.sha256,
                        schema_version=outcome.schema_version,
                        created_by=actor,
                        created_at=now,
                        flow_run=flow_run,
                    )
                )
                s.flush()
            report = ValidationReport(
                dataset_version=outcome.dataset_version,
                flow_run=flow_run,
                source=outcome.raw.source,
                raw_uri=outcome.raw.uri,
                raw_sha256=outcome.raw.sha256,
                rows_in=outcome.rows_in,
                rows_valid=outcome.rows_valid,
                rows_quarantined=outcome.rows_quarantined,
                valid_fraction=outcome.valid_fraction,
                min_valid_fraction=outcome.min_valid_fraction,
                passed=outcome.passed,
                quarantine_uri=outcome.quarantine_uri,
                check_counts=[vars(c) for c in outcome.check_counts],
                created_by=actor,
                created_at=now,
            )
            s.add(report)
            s.flush()
            _add_reasons(uow, report.id, outcome.dataset_version, reasons)
            uow.audit(
                actor,
                "dataset.ingest",
                outcome.dataset_version,
                {
                    "new_version": created,
                    "report_id": report.id,
                    "rows_in": outcome.rows_in,
                    "rows_valid": outcome.rows_valid,
                    "rows_quarantined": outcome.rows_quarantined,
                    "passed": outcome.passed,
                    "raw_sha256": outcome.raw.sha256,
                    "flow_run": flow_run,
                },
            )
            return IngestRecord(outcome.dataset_version, created, report.id)

    def all(self) -> list[DatasetRecord]:
        """All dataset versions, newest first."""
        with self.read() as s:
            rows = s.execute(select(Dataset).order_by(Dataset.created_at.desc())).scalars()
            return [dataset_record(d) for d in rows]

    def get(self, version: str) -> DatasetRecord:
        with self.read() as s:
            d = self.row(s, Dataset, version, f"no dataset version {version!r} in the ledger")
            return dataset_record(d)

    def reports(self, dataset_version: str | None = None) -> list[ValidationReportRecord]:
        with self.read() as s:
            q = select(ValidationReport).order_by(ValidationReport.id)
            if dataset_version:
                q = q.where(ValidationReport.dataset_version == dataset_version)
            return [report_record(r) for r in s.execute(q).scalars()]

    def report_count(self, dataset_version: str) -> int:
        with self.read() as s:
            return int(
                s.execute(
                    select(func.count(ValidationReport.id)).where(
                        ValidationReport.dataset_version == dataset_version
                    )
                ).scalar_one()
            )

    def quarantine(self, version: str, examples: int = 3) -> QuarantineSummary:
        """Quarantine reasons of a dataset version's newest report, grouped by check."""
        with self.read() as s:
            report = s.execute(
                select(ValidationReport)
                .where(ValidationReport.dataset_version == version)
                .order_by(ValidationReport.id.desc())
                .limit(1)
            ).scalar()
            if report is None:
                raise LedgerError(f"no dataset version {version!r} in the ledger")
            rows = func.count(func.distinct(Quarantine.row_number))
            groups = s.execute(
                select(Quarantine.column_name, Quarantine.check_name, rows)
                .where(Quarantine.report_id == report.id)
                .group_by(Quarantine.column_name, Quarantine.check_name)
                .order_by(rows.desc())
            ).all()
            by_check = []
            for col, check, n in groups:
                ex = s.execute(
                    select(Quarantine.row_number, Quarantine.value)
                    .where(
                        Quarantine.report_id == report.id,
                        Quarantine.column_name == col,
                        Quarantine.check_name == check,
                    )
                    .order_by(Quarantine.row_number)
                    .limit(examples)
                ).all()
                found = [QuarantineExample(r, v) for r, v in ex]
                by_check.append(QuarantineCheck(col, check, int(n), found))
            return QuarantineSummary(version, report.rows_quarantined, by_check)

    def record_labels(
        self, uri: str, rows: int, source: str, actor: str, dataset_version: str | None = None
    ) -> int:
        """Record a batch of delayed labels stored at ``uri`` (once: a resumed or rerun
        ingest of the same batch returns the batch already recorded)."""
        with self.write() as uow:
            s = uow.session
            done = s.execute(
                select(LabelBatch.id).where(
                    LabelBatch.uri == uri, LabelBatch.dataset_version == dataset_version
                )
            ).scalar()
            if done is not None:
                return done
            batch = LabelBatch(
                uri=uri,
                rows=rows,
                source=source,
                dataset_version=dataset_version,
                recorded_by=actor,
                created_at=utcnow(),
            )
            s.add(batch)
            s.flush()
            details = {"rows": rows, "dataset_version": dataset_version}
            uow.audit(actor, "labels.record", uri, details)
            return batch.id

    def label_batches(self) -> list[LabelBatchRecord]:
        with self.read() as s:
            rows = s.execute(select(LabelBatch).order_by(LabelBatch.id)).scalars()
            return [label_batch_record(b) for b in rows]


def _add_reasons(uow: UnitOfWork, report_id: int, version: str, reasons: pd.DataFrame) -> None:
    """One quarantine row per (row, column, check) that failed."""
    if not len(reasons):
        return
    uow.session.execute(
        insert(Quarantine),
        [
            {
                "report_id": report_id,
                "dataset_version": version,
                "row_number": int(r),
                "column_name": c,
                "check_name": k,
                "value": v,
            }
            for r, c, k, v in zip(
                reasons["row"].tolist(),
                reasons["column"].tolist(),
                reasons["check"].tolist(),
                reasons["value"].tolist(),
                strict=True,
            )
        ],
    )
