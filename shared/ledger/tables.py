"""The ledger's tables (SQLAlchemy 2.0 ORM), every aggregate's, in one metadata for Alembic:
schema changes go through migrations. Each aggregate's records, the mapping from its rows
and its repository live in its own module (runs, datasets, registry, releases,
operations, monitoring, audit, trust)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class FlowRun(Base):
    __tablename__ = "flow_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pathspec: Mapped[str] = mapped_column(String(255), unique=True)
    flow: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[str] = mapped_column(String(100))
    user: Mapped[str] = mapped_column(String(100))
    branch: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Dataset(Base):
    __tablename__ = "datasets"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    rows_in: Mapped[int] = mapped_column(Integer)
    rows_valid: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)
    location: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    raw_uri: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    flow_run: Mapped[str | None] = mapped_column(String(255))


class ValidationReport(Base):
    __tablename__ = "validation_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_version: Mapped[str] = mapped_column(ForeignKey("datasets.version"))
    flow_run: Mapped[str | None] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(Text)
    raw_uri: Mapped[str] = mapped_column(Text)
    raw_sha256: Mapped[str] = mapped_column(String(64))
    rows_in: Mapped[int] = mapped_column(Integer)
    rows_valid: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)
    valid_fraction: Mapped[float] = mapped_column(Float)
    min_valid_fraction: Mapped[float] = mapped_column(Float)
    passed: Mapped[bool] = mapped_column(Boolean)
    quarantine_uri: Mapped[str] = mapped_column(Text)
    check_counts: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Quarantine(Base):
    __tablename__ = "quarantines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("validation_reports.id"))
    dataset_version: Mapped[str] = mapped_column(String(64))
    row_number: Mapped[int] = mapped_column(Integer)
    column_name: Mapped[str] = mapped_column(String(100))
    check_name: Mapped[str] = mapped_column(String(100))
    value: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_quarantines_dataset_version", "dataset_version"),)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ts: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the newest audit entry, so that deleting the tail is detectable too."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


class LabelBatch(Base):
    """Delayed labels (true target values) that arrived as one file."""

    __tablename__ = "label_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(Text)
    dataset_version: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ModelVersion(Base):
    __tablename__ = "model_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_key: Mapped[str] = mapped_column(String(255))
    family: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    key_metric: Mapped[str] = mapped_column(String(30))
    metrics: Mapped[dict] = mapped_column(JSON)
    slice_metrics: Mapped[dict] = mapped_column(JSON)
    gate_results: Mapped[list] = mapped_column(JSON)
    baseline_metrics: Mapped[dict] = mapped_column(JSON)
    artifact_uri: Mapped[str] = mapped_column(Text)
    git_commit: Mapped[str | None] = mapped_column(String(64))
    git_dirty: Mapped[bool | None] = mapped_column(Boolean)
    config_hash: Mapped[str] = mapped_column(String(64))
    flow_run: Mapped[str] = mapped_column(String(255))
    task_pathspec: Mapped[str | None] = mapped_column(String(255))
    trained_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resources: Mapped[dict] = mapped_column(JSON)
    __table_args__ = (Index("ux_model_versions_run_family", "run_key", "family", unique=True),)


class ModelDataset(Base):
    __tablename__ = "model_datasets"
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"), primary_key=True)
    dataset_version: Mapped[str] = mapped_column(ForeignKey("datasets.version"), primary_key=True)


class Approval(Base):
    __tablename__ = "approvals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))  # approve | reject
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Deployment(Base):
    """The two halves joined: a rules release (commit + hash) around a model version."""

    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    alias: Mapped[str] = mapped_column(String(50))
    rules_hash: Mapped[str] = mapped_column(String(64))
    rules_version: Mapped[str] = mapped_column(String(100))
    code_commit: Mapped[str | None] = mapped_column(String(64))
    bundle_uri: Mapped[str] = mapped_column(Text)
    bundle_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Alias(Base):
    __tablename__ = "aliases"
    alias: Mapped[str] = mapped_column(String(50), primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id"))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AliasMove(Base):
    """Append-only history of alias moves: who moved what, when, why, from which version."""

    __tablename__ = "alias_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alias: Mapped[str] = mapped_column(String(50))
    model_id: Mapped[int] = mapped_column(Integer)
    previous_model_id: Mapped[int | None] = mapped_column(Integer)
    deployment_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # promote | rollback
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ScoringBatch(Base):
    __tablename__ = "scoring_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run: Mapped[str | None] = mapped_column(String(255))
    input_source: Mapped[str] = mapped_column(Text)
    input_uri: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str] = mapped_column(String(64))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    model_id: Mapped[int] = mapped_column(Integer)
    rules_version: Mapped[str] = mapped_column(String(100))
    output_uri: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    decisions: Mapped[dict] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FeedbackBatch(Base):
    """One arrival of delayed labels (a file, or one operator's entry), with what happened."""

    __tablename__ = "feedback_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    late: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    unknown: Mapped[int] = mapped_column(Integer)
    invalid: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Feedback(Base):
    """One true value for one scored row. Every arrival is kept, with its status."""

    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feedback_batch_id: Mapped[int] = mapped_column(ForeignKey("feedback_batches.id"))
    row_id: Mapped[str] = mapped_column(String(255))
    value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(
        String(20)
    )  # accepted | late | duplicate | unknown | invalid
    scoring_batch_id: Mapped[int | None] = mapped_column(Integer)
    request_id: Mapped[str | None] = mapped_column(String(64))  # an online answer's request
    flagged: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_feedback_row_id", "row_id"),)


class MonitoringReport(Base):
    __tablename__ = "monitoring_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flow_run: Mapped[str | None] = mapped_column(String(255))
    model_id: Mapped[int] = mapped_column(Integer)
    batches: Mapped[list] = mapped_column(JSON)
    rows: Mapped[int] = mapped_column(Integer)
    label_coverage: Mapped[float] = mapped_column(Float)
    checks: Mapped[list] = mapped_column(JSON)
    retrain: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list] = mapped_column(JSON)
    retrain_run: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IntervalUpdate(Base):
    """One adaptive update of an alias's interval quantile (revision 0008): the labels of a
    feedback batch that its deployment answered moved the factor on the calibrated quantile."""

    __tablename__ = "interval_updates"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alias: Mapped[str] = mapped_column(String(100))
    deployment_id: Mapped[int] = mapped_column(Integer, ForeignKey("deployments.id"))
    model_id: Mapped[int] = mapped_column(Integer)
    feedback_batch_id: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[int] = mapped_column(Integer)
    covered: Mapped[int] = mapped_column(Integer)  # labels the old quantile's intervals held
    old_factor: Mapped[float] = mapped_column(Float)
    new_factor: Mapped[float] = mapped_column(Float)
    old_quantile: Mapped[float] = mapped_column(Float)  # the model's: calibrated q * factor
    new_quantile: Mapped[float] = mapped_column(Float)
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (Index("ix_interval_updates_alias", "alias", "deployment_id"),)


# shared.trust's tables (revision 0006): signatures of decisions, API tokens


class Signature(Base):
    """The signed statement of one approval/rejection (kind approval, ref approvals.id) or
    one promotion/rollback (kind alias_move, ref alias_history.id)."""

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[int] = mapped_column(Integer)
    signer: Mapped[str] = mapped_column(String(100))
    identity: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    login: Mapped[str] = mapped_column(String(255))
    key_name: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="ux_signatures_kind_ref"),)


class ApiToken(Base):
    """A bearer token of the scoring service: only its sha256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))
