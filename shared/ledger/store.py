"""The ledger API. SQLite by default, any SQLAlchemy URL (PostgreSQL via psycopg) otherwise.

Every write happens in one transaction that also appends to the audit chain; the chain's
head row is locked first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL), so concurrent writers serialise and the chain stays linear.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from shared.ledger.models import (
    Alias,
    AliasMove,
    Approval,
    AuditEntry,
    AuditHead,
    Dataset,
    Feedback,
    FeedbackBatch,
    FlowRun,
    LabelBatch,
    ModelDataset,
    ModelVersion,
    MonitoringReport,
    Quarantine,
    ScoringBatch,
    ValidationReport,
)
from shared.ledger.models import Deployment as DeploymentRow

GENESIS = "0" * 64


class LedgerError(RuntimeError):
    """The ledger cannot be reached or holds no such record."""


def utcnow() -> datetime:
    return datetime.now(UTC)


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
class IngestRecord:
    """What recording one ingest did: whether the dataset was new, and the report id."""

    dataset_version: str
    dataset_created: bool
    report_id: int


@dataclass(frozen=True)
class QuarantineSummary:
    dataset_version: str
    rows_quarantined: int
    by_check: list[dict[str, Any]]  # column, check, rows, examples


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    problems: list[str]


@dataclass(frozen=True)
class LabelBatchRecord:
    id: int
    uri: str
    rows: int
    source: str
    dataset_version: str | None
    recorded_by: str
    created_at: datetime


@dataclass(frozen=True)
class ModelRegistration:
    """What the train flow registers for one candidate family."""

    family: str
    status: str  # baseline | candidate | passed | rejected
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
    status: str
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
        return f"v{self.id}"

    @property
    def failing_gates(self) -> list[str]:
        return [g["name"] for g in self.gate_results if not g["passed"]]


@dataclass(frozen=True)
class Lineage:
    """A model version back to its code, config, run and raw data."""

    model: ModelVersionRecord
    datasets: list[dict[str, Any]]  # version, rows, raw source/uri/sha, quarantine counts
    flow_run: dict[str, Any] | None


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    version: str
    actor: str
    role: str
    decision: str
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    version: str
    alias: str
    rules_hash: str
    rules_version: str
    code_commit: str | None
    bundle_uri: str
    created_by: str
    created_at: datetime
    bundle_sha256: str | None = None


@dataclass(frozen=True)
class AliasMoveRecord:
    id: int
    alias: str
    version: str
    previous_version: str | None
    deployment_id: int
    action: str
    actor: str
    reason: str
    at: datetime


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


def parse_version(version: str | int) -> int:
    text = str(version).strip().lower().removeprefix("v")
    if not text.isdigit():
        raise LedgerError(f"not a model version: {version!r} (expected e.g. v3)")
    return int(text)


def _entry_hash(prev: str, ts: str, actor: str, action: str, subject: str, details: str) -> str:
    payload = json.dumps([prev, ts, actor, action, subject, details], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def db_error(e: BaseException) -> str:
    """One line for a database error: the driver's own first line, without SQL or links."""
    orig = getattr(e, "orig", None) or e
    text = str(orig).strip()
    line = text.splitlines()[0] if text else type(orig).__name__
    if "readonly database" in line or "read-only" in line:
        return f"{line}: the ledger is read-only (check its file and folder permissions)"
    if "database is locked" in line:
        return f"{line}: another process holds the ledger; retry when it is done"
    return line


NO_LEDGER_HINT = (
    "check the URL (--ledger, RENKEI_LEDGER_URL or storage.ledger_url), "
    "or create a new ledger with `renkei db upgrade`"
)


def _make_engine(url: str, create: bool) -> Engine:
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            path = Path(u.database)
            if not path.is_file():
                if not create:
                    what = "is a folder, not a ledger" if path.exists() else "does not exist"
                    raise LedgerError(f"no ledger at {url}: {path} {what}: {NO_LEDGER_HINT}")
                path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=60000")
            dbapi_conn.execute("PRAGMA foreign_keys=ON")

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if u.get_backend_name() == "postgresql" and u.get_driver_name() in ("psycopg2", ""):
        u = u.set(drivername="postgresql+psycopg")
    return create_engine(u, pool_pre_ping=True)


class Ledger:
    """Records lineage and who did what. Open with :meth:`open` (migrates to the newest schema)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # called after a write committed audit entries: (first new id, last id, last hash);
        # shared.trust.anchors.attach sets it to anchor the chain outside the database
        self.on_commit: Callable[[int, int, str], None] | None = None

    @classmethod
    def open(cls, url: str, migrate: bool = True, create: bool = False) -> Ledger:
        """Open an existing ledger (a missing SQLite file is refused, never created by
        accident); ``create=True`` (``renkei db upgrade``, the demo) creates one."""
        try:
            engine = _make_engine(url, create)
        except LedgerError:
            raise
        except Exception as e:  # bad URL, missing driver
            raise LedgerError(f"cannot open ledger {url!r}: {e}") from None
        ledger = cls(engine)
        if migrate:
            ledger.migrate()
        return ledger

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision (safe to call concurrently)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(resources.files("shared.ledger") / "migrations"))
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(7262001)"))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as e:
            raise LedgerError(f"cannot open ledger {self.url}: {db_error(e)}") from e

    def close(self) -> None:
        self.engine.dispose()

    # -- writing -----------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[tuple[Session, Any]]:
        """A write transaction holding the audit chain's head; yields (session, audit)."""
        with Session(self.engine) as s, s.begin():
            head = s.execute(
                select(AuditHead).where(AuditHead.id == 1).with_for_update()
            ).scalar_one()
            first = head.last_id + 1

            def audit(actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
                ts = utcnow().isoformat()
                body = json.dumps(details, sort_keys=True, default=str)
                h = _entry_hash(head.last_hash, ts, actor, action, subject, body)
                s.add(
                    AuditEntry(
                        id=head.last_id + 1,
                        ts=ts,
                        actor=actor,
                        action=action,
                        subject=subject,
                        details=body,
                        prev_hash=head.last_hash,
                        hash=h,
                    )
                )
                head.last_id += 1
                head.last_hash = h
                s.flush()

            yield s, audit
            last = (head.last_id, head.last_hash)
        if self.on_commit is not None and last[0] >= first:
            self.on_commit(first, *last)

    def audit(self, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        """Append one event to the audit chain."""
        with self._write() as (_, audit):
            audit(actor, action, subject, details)

    def start_run(
        self, flow: str, run_id: str, user: str, branch: str | None = None, **details: Any
    ) -> str:
        """Record a flow run as running; returns its pathspec. Idempotent per pathspec."""
        pathspec = f"{flow}/{run_id}"
        with self._write() as (s, audit):
            existing = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            if existing is None:
                s.add(
                    FlowRun(
                        pathspec=pathspec,
                        flow=flow,
                        run_id=str(run_id),
                        user=user,
                        branch=branch,
                        status="running",
                        started_at=utcnow(),
                        details=details,
                    )
                )
                audit(user, "run.start", pathspec, {"branch": branch, **details})
        return pathspec

    def finish_run(self, pathspec: str, status: str, **details: Any) -> None:
        """Mark a flow run succeeded or failed."""
        with self._write() as (s, audit):
            run = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            if run is None:
                raise LedgerError(f"no flow run {pathspec!r} in the ledger")
            run.status = status
            run.ended_at = utcnow()
            run.details = {**(run.details or {}), **details}
            audit(run.user, f"run.{status}", pathspec, details)

    def record_ingest(
        self,
        outcome: Any,
        reasons: pd.DataFrame,
        actor: str,
        flow_run: str | None = None,
    ) -> IngestRecord:
        """Record a dataset version (once), its validation report and quarantine reasons.

        Idempotent per dataset version and ingest run: a resumed or rerun step of the same
        run returns the report it already recorded instead of adding a second one.
        """
        now = utcnow()
        with self._write() as (s, audit):
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
            if len(reasons):
                s.execute(
                    insert(Quarantine),
                    [
                        {
                            "report_id": report.id,
                            "dataset_version": outcome.dataset_version,
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
            audit(
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

    # -- reading -----------------------------------------------------------------------
    def datasets(self) -> list[DatasetRecord]:
        """All dataset versions, newest first."""
        with Session(self.engine) as s:
            rows = s.execute(select(Dataset).order_by(Dataset.created_at.desc())).scalars()
            return [
                DatasetRecord(
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
                for d in rows
            ]

    def flow_runs(self) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            rows = s.execute(select(FlowRun).order_by(FlowRun.id)).scalars()
            return [
                {
                    "pathspec": r.pathspec,
                    "user": r.user,
                    "branch": r.branch,
                    "status": r.status,
                    "started_at": r.started_at,
                    "ended_at": r.ended_at,
                    "error": (r.details or {}).get("error"),
                }
                for r in rows
            ]

    def reports(self, dataset_version: str | None = None) -> list[dict[str, Any]]:
        with Session(self.engine) as s:
            q = select(ValidationReport).order_by(ValidationReport.id)
            if dataset_version:
                q = q.where(ValidationReport.dataset_version == dataset_version)
            return [
                {
                    "id": r.id,
                    "dataset_version": r.dataset_version,
                    "flow_run": r.flow_run,
                    "rows_in": r.rows_in,
                    "rows_valid": r.rows_valid,
                    "rows_quarantined": r.rows_quarantined,
                    "passed": r.passed,
                    "quarantine_uri": r.quarantine_uri,
                }
                for r in s.execute(q).scalars()
            ]

    def quarantine(self, version: str, examples: int = 3) -> QuarantineSummary:
        """Quarantine reasons of a dataset version's newest report, grouped by check."""
        with Session(self.engine) as s:
            report = s.execute(
                select(ValidationReport)
                .where(ValidationReport.dataset_version == version)
                .order_by(ValidationReport.id.desc())
                .limit(1)
            ).scalar()
            if report is None:
                raise LedgerError(f"no dataset version {version!r} in the ledger")
            groups = s.execute(
                select(
                    Quarantine.column_name,
                    Quarantine.check_name,
                    func.count(func.distinct(Quarantine.row_number)),
                )
                .where(Quarantine.report_id == report.id)
                .group_by(Quarantine.column_name, Quarantine.check_name)
                .order_by(func.count(func.distinct(Quarantine.row_number)).desc())
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
                by_check.append(
                    {
                        "column": col,
                        "check": check,
                        "rows": int(n),
                        "examples": [{"row": r, "value": v} for r, v in ex],
                    }
                )
            return QuarantineSummary(version, report.rows_quarantined, by_check)

    def record_labels(
        self, uri: str, rows: int, source: str, actor: str, dataset_version: str | None = None
    ) -> int:
        """Record a batch of delayed labels stored at ``uri`` (once: a resumed or rerun
        ingest of the same batch returns the batch already recorded)."""
        with self._write() as (s, audit):
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
            audit(actor, "labels.record", uri, {"rows": rows, "dataset_version": dataset_version})
            return batch.id

    def label_batches(self) -> list[LabelBatchRecord]:
        with Session(self.engine) as s:
            return [
                LabelBatchRecord(
                    b.id, b.uri, b.rows, b.source, b.dataset_version, b.recorded_by, b.created_at
                )
                for b in s.execute(select(LabelBatch).order_by(LabelBatch.id)).scalars()
            ]

    def dataset(self, version: str) -> DatasetRecord:
        with Session(self.engine) as s:
            d = s.get(Dataset, version)
            if d is None:
                raise LedgerError(f"no dataset version {version!r} in the ledger")
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

    def flow_run(self, pathspec: str) -> dict[str, Any] | None:
        with Session(self.engine) as s:
            r = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            if r is None:
                return None
            return {
                "pathspec": r.pathspec,
                "user": r.user,
                "branch": r.branch,
                "status": r.status,
                "started_at": r.started_at,
                "ended_at": r.ended_at,
                "error": (r.details or {}).get("error"),
            }

    def register_models(
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
        with self._write() as (s, audit):
            existing = (
                s.execute(select(ModelVersion.id).where(ModelVersion.run_key == run_key))
                .scalars()
                .all()
            )
            if not existing:
                if sum(r.status == "candidate" for r in registrations) > 1:
                    raise LedgerError("at most one candidate may be registered per training run")
                now = utcnow()
                for r in registrations:
                    mv = ModelVersion(
                        run_key=run_key,
                        family=r.family,
                        status=r.status,
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
                    audit(
                        actor,
                        "model.register",
                        f"v{mv.id}",
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

    @staticmethod
    def _model_record(m: ModelVersion, datasets: list[str]) -> ModelVersionRecord:
        return ModelVersionRecord(
            m.id,
            m.family,
            m.status,
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

    def models(self, limit: int | None = None) -> list[ModelVersionRecord]:
        """Model versions, newest first (the newest ``limit`` when given)."""
        with Session(self.engine) as s:
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
            return [self._model_record(m, links.get(m.id, [])) for m in rows]

    def model(self, version: str | int) -> ModelVersionRecord:
        mid = parse_version(version)
        with Session(self.engine) as s:
            m = s.get(ModelVersion, mid)
            if m is None:
                raise LedgerError(f"no model version v{mid} in the ledger")
            links = s.execute(
                select(ModelDataset.dataset_version).where(ModelDataset.model_id == mid)
            ).scalars()
            return self._model_record(m, list(links))

    def lineage(self, version: str | int) -> Lineage:
        """The model version, the datasets it was trained on back to their raw sources."""
        m = self.model(version)
        datasets = []
        for dv in m.datasets:
            d = self.dataset(dv)
            with Session(self.engine) as s:
                n_reports = s.execute(
                    select(func.count(ValidationReport.id)).where(
                        ValidationReport.dataset_version == dv
                    )
                ).scalar_one()
            datasets.append(
                {
                    "version": d.version,
                    "rows_in": d.rows_in,
                    "rows_valid": d.rows_valid,
                    "rows_quarantined": d.rows_quarantined,
                    "location": d.location,
                    "raw_source": d.source,
                    "raw_uri": d.raw_uri,
                    "ingest_run": d.flow_run,
                    "validation_reports": int(n_reports),
                }
            )
        return Lineage(m, datasets, self.flow_run(m.flow_run))

    # -- release ---------------------------------------------------------------------------
    def add_approval(
        self, version: str | int, actor: str, role: str, decision: str, comment: str
    ) -> ApprovalRecord:
        """Record an approval or rejection (policy checks live in shared.release)."""
        mid = parse_version(version)
        with self._write() as (s, audit):
            a = Approval(
                model_id=mid,
                actor=actor,
                role=role,
                decision=decision,
                comment=comment,
                created_at=utcnow(),
            )
            s.add(a)
            s.flush()
            audit(actor, f"model.{decision}", f"v{mid}", {"role": role, "comment": comment})
            return ApprovalRecord(a.id, f"v{mid}", actor, role, decision, comment, a.created_at)

    def approvals(self, version: str | int | None = None) -> list[ApprovalRecord]:
        with Session(self.engine) as s:
            q = select(Approval).order_by(Approval.id)
            if version is not None:
                q = q.where(Approval.model_id == parse_version(version))
            return [
                ApprovalRecord(
                    a.id, f"v{a.model_id}", a.actor, a.role, a.decision, a.comment, a.created_at
                )
                for a in s.execute(q).scalars()
            ]

    @staticmethod
    def _deployment(d: DeploymentRow) -> DeploymentRecord:
        return DeploymentRecord(
            d.id,
            f"v{d.model_id}",
            d.alias,
            d.rules_hash,
            d.rules_version,
            d.code_commit,
            d.bundle_uri,
            d.created_by,
            d.created_at,
            d.bundle_sha256,
        )

    def move_alias(
        self,
        alias: str,
        version: str | int,
        actor: str,
        reason: str,
        action: str,
        deployment: dict[str, Any] | None = None,
        check: Any = None,
    ) -> AliasMoveRecord:
        """Point ``alias`` at ``version``, appending to its history, in one locked transaction.

        ``deployment``: a new deployment record to create (rules + bundle); without it the
        newest deployment of that version under this alias is reused (rollback).
        ``check(current_version_or_None)`` may raise to refuse, seeing the alias as it is
        inside the lock, so racing moves cannot both pass on a stale view.
        """
        mid = parse_version(version)
        with self._write() as (s, audit):
            current = s.get(Alias, alias)
            previous = current.model_id if current else None
            if check is not None:
                check(None if previous is None else f"v{previous}")
            now = utcnow()
            if deployment is not None:
                dep = DeploymentRow(model_id=mid, alias=alias, created_at=now, **deployment)
                s.add(dep)
                s.flush()
            else:
                dep = s.execute(
                    select(DeploymentRow)
                    .where(DeploymentRow.model_id == mid, DeploymentRow.alias == alias)
                    .order_by(DeploymentRow.id.desc())
                    .limit(1)
                ).scalar()
                if dep is None:
                    raise LedgerError(f"v{mid} was never deployed as {alias!r}")
            if current is None:
                s.add(Alias(alias=alias, model_id=mid, deployment_id=dep.id, updated_at=now))
            else:
                current.model_id, current.deployment_id, current.updated_at = mid, dep.id, now
            move = AliasMove(
                alias=alias,
                model_id=mid,
                previous_model_id=previous,
                deployment_id=dep.id,
                action=action,
                actor=actor,
                reason=reason,
                at=now,
            )
            s.add(move)
            s.flush()
            audit(
                actor,
                f"alias.{action}",
                alias,
                {
                    "version": f"v{mid}",
                    "previous": None if previous is None else f"v{previous}",
                    "deployment": dep.id,
                    "rules_version": dep.rules_version,
                    "reason": reason,
                },
            )
            return AliasMoveRecord(
                move.id,
                alias,
                f"v{mid}",
                None if previous is None else f"v{previous}",
                dep.id,
                action,
                actor,
                reason,
                now,
            )

    def alias(self, alias: str) -> DeploymentRecord | None:
        """The deployment an alias points at now, or None."""
        with Session(self.engine) as s:
            a = s.get(Alias, alias)
            if a is None:
                return None
            return self._deployment(s.get(DeploymentRow, a.deployment_id))

    def alias_history(self, alias: str | None = None) -> list[AliasMoveRecord]:
        with Session(self.engine) as s:
            q = select(AliasMove).order_by(AliasMove.id)
            if alias:
                q = q.where(AliasMove.alias == alias)
            return [
                AliasMoveRecord(
                    m.id,
                    m.alias,
                    f"v{m.model_id}",
                    None if m.previous_model_id is None else f"v{m.previous_model_id}",
                    m.deployment_id,
                    m.action,
                    m.actor,
                    m.reason,
                    m.at,
                )
                for m in s.execute(q).scalars()
            ]

    def alias_at(self, alias: str, when: datetime) -> str | None:
        """Which version ``alias`` pointed at on ``when`` (from the append-only history)."""
        version = None
        for m in self.alias_history(alias):
            at = m.at if m.at.tzinfo else m.at.replace(tzinfo=UTC)
            if at <= (when if when.tzinfo else when.replace(tzinfo=UTC)):
                version = m.version
        return version

    def deployments(self) -> list[DeploymentRecord]:
        with Session(self.engine) as s:
            rows = s.execute(select(DeploymentRow).order_by(DeploymentRow.id)).scalars()
            return [self._deployment(d) for d in rows]

    def latest_deployment(self, version: str | int, alias: str) -> DeploymentRecord | None:
        """The newest deployment of ``version`` as ``alias`` (what a rollback reuses)."""
        with Session(self.engine) as s:
            d = s.execute(
                select(DeploymentRow)
                .where(DeploymentRow.model_id == parse_version(version))
                .where(DeploymentRow.alias == alias)
                .order_by(DeploymentRow.id.desc())
                .limit(1)
            ).scalar()
            return None if d is None else self._deployment(d)

    def deployment(self, deployment_id: int) -> DeploymentRecord:
        with Session(self.engine) as s:
            d = s.get(DeploymentRow, deployment_id)
            if d is None:
                raise LedgerError(f"no deployment {deployment_id}")
            return self._deployment(d)

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
        with self._write() as (s, audit):
            dep = s.get(DeploymentRow, deployment_id)
            if dep is None:
                raise LedgerError(f"no deployment {deployment_id}")
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
            audit(
                actor,
                "scoring.batch",
                f"batch-{b.id}",
                {"version": f"v{dep.model_id}", "rows": rows, "decisions": decisions},
            )
            return self._batch(b)

    @staticmethod
    def _batch(b: ScoringBatch) -> ScoringBatchRecord:
        return ScoringBatchRecord(
            b.id,
            b.flow_run,
            b.input_source,
            b.input_uri,
            b.input_sha256,
            b.deployment_id,
            f"v{b.model_id}",
            b.rules_version,
            b.output_uri,
            b.rows,
            b.decisions,
            b.created_by,
            b.created_at,
        )

    def scoring_batches(self) -> list[ScoringBatchRecord]:
        with Session(self.engine) as s:
            rows = s.execute(select(ScoringBatch).order_by(ScoringBatch.id)).scalars()
            return [self._batch(b) for b in rows]

    def scoring_batch(self, batch_id: int) -> ScoringBatchRecord:
        with Session(self.engine) as s:
            b = s.get(ScoringBatch, batch_id)
            if b is None:
                raise LedgerError(f"no scoring batch {batch_id}")
            return self._batch(b)

    def batch_lineage(self, batch_id: int) -> dict[str, Any]:
        """A scoring batch back to its input, the deployment (rules + model), the model's
        training run and datasets, and their raw sources."""
        b = self.scoring_batch(batch_id)
        dep = self.deployment(b.deployment_id)
        lin = self.lineage(b.version)
        return {
            "batch": b,
            "deployment": dep,
            "model": lin.model,
            "training_run": lin.flow_run,
            "datasets": lin.datasets,
        }

    # -- feedback and monitoring -----------------------------------------------------------
    def record_feedback(
        self, source: str, entries: list[dict[str, Any]], actor: str
    ) -> FeedbackBatchRecord:
        """Keep every feedback row with its status (accepted, late, duplicate, unknown,
        invalid); nothing is dropped."""
        counts = Counter(e["status"] for e in entries)
        now = utcnow()
        with self._write() as (s, audit):
            fb = FeedbackBatch(
                source=source,
                rows=len(entries),
                accepted=counts["accepted"],
                late=counts["late"],
                duplicates=counts["duplicate"],
                unknown=counts["unknown"],
                invalid=counts["invalid"],
                actor=actor,
                created_at=now,
            )
            s.add(fb)
            s.flush()
            if entries:
                s.execute(
                    insert(Feedback),
                    [
                        {
                            "feedback_batch_id": fb.id,
                            "row_id": e["row_id"],
                            "value": e["value"],
                            "status": e["status"],
                            "scoring_batch_id": e.get("scoring_batch_id"),
                            "flagged": bool(e.get("flagged", False)),
                            "note": e.get("note", ""),
                            "actor": actor,
                            "created_at": now,
                        }
                        for e in entries
                    ],
                )
            audit(actor, "feedback.record", source, dict(counts))
            return self._feedback_batch(fb)

    @staticmethod
    def _feedback_batch(b: FeedbackBatch) -> FeedbackBatchRecord:
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

    def feedback_batches(self) -> list[FeedbackBatchRecord]:
        with Session(self.engine) as s:
            rows = s.execute(select(FeedbackBatch).order_by(FeedbackBatch.id)).scalars()
            return [self._feedback_batch(b) for b in rows]

    def labelled_rows(self) -> pd.DataFrame:
        """Usable feedback (accepted or late): row_id, value, scoring batch, flagged, when."""
        with Session(self.engine) as s:
            rows = s.execute(
                select(
                    Feedback.row_id,
                    Feedback.value,
                    Feedback.scoring_batch_id,
                    Feedback.flagged,
                    Feedback.actor,
                    Feedback.created_at,
                )
                .where(Feedback.status.in_(["accepted", "late"]))
                .order_by(Feedback.id)
            ).all()
        return pd.DataFrame(
            rows,
            columns=["row_id", "value", "scoring_batch_id", "flagged", "actor", "created_at"],
        )

    def record_monitoring(
        self,
        flow_run: str | None,
        version: str,
        batches: list[int],
        rows: int,
        label_coverage: float,
        checks: list[dict[str, Any]],
        retrain: bool,
        reasons: list[str],
        actor: str,
    ) -> MonitoringRecord:
        with self._write() as (s, audit):
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
            s.add(r)
            s.flush()
            audit(
                actor,
                "monitoring.report",
                f"v{r.model_id}",
                {"report": r.id, "retrain": retrain, "reasons": reasons, "batches": batches},
            )
            return self._monitoring(r)

    def set_retrain_run(self, report_id: int, run: str, actor: str) -> None:
        with self._write() as (s, audit):
            r = s.get(MonitoringReport, report_id)
            if r is None:
                raise LedgerError(f"no monitoring report {report_id}")
            r.retrain_run = run
            audit(actor, "retrain.triggered", run, {"report": report_id, "reasons": r.reasons})

    @staticmethod
    def _monitoring(r: MonitoringReport) -> MonitoringRecord:
        return MonitoringRecord(
            r.id,
            r.flow_run,
            f"v{r.model_id}",
            r.batches,
            r.rows,
            r.label_coverage,
            r.checks,
            r.retrain,
            r.reasons,
            r.retrain_run,
            r.created_at,
        )

    def monitoring_reports(self) -> list[MonitoringRecord]:
        with Session(self.engine) as s:
            rows = s.execute(select(MonitoringReport).order_by(MonitoringReport.id)).scalars()
            return [self._monitoring(r) for r in rows]

    def audit_entries(self) -> list[AuditEntry]:
        with Session(self.engine) as s:
            rows = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
            s.expunge_all()
            return rows

    def verify_audit(self) -> AuditVerification:
        """Recompute the chain: any edited, inserted or deleted entry is reported."""
        problems: list[str] = []
        with Session(self.engine) as s:
            head = s.get(AuditHead, 1)
            prev = GENESIS
            expected_id = 1
            count = 0
            for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
                count += 1
                if e.id != expected_id:
                    problems.append(f"entry {expected_id} is missing (next is {e.id})")
                    expected_id = e.id
                if e.prev_hash != prev:
                    problems.append(f"entry {e.id}: does not follow the entry before it")
                h = _entry_hash(e.prev_hash, e.ts, e.actor, e.action, e.subject, e.details)
                if h != e.hash:
                    problems.append(f"entry {e.id}: content does not match its hash (edited)")
                prev = e.hash
                expected_id += 1
            if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
                problems.append(
                    f"chain ends at entry {expected_id - 1} but the head records entry "
                    f"{head.last_id} (entries deleted at the end?)"
                )
        return AuditVerification(not problems, count, problems)
