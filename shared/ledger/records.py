"""What the ledger hands out: typed records (frozen dataclasses), one per thing it keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.ledger.vocab import (
    AliasAction,
    Decision,
    FeedbackStatus,
    ModelStatus,
    RunStatus,
    version_label,
)


@dataclass(frozen=True)
class FlowRunRecord:
    pathspec: str
    user: str
    branch: str | None
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None
    error: str | None


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


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    version: str
    actor: str
    role: str
    decision: Decision
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
class NewDeployment:
    """The rules release and bundle a promotion deploys around a model version."""

    rules_hash: str
    rules_version: str
    code_commit: str | None
    bundle_uri: str
    created_by: str
    bundle_sha256: str | None = None


@dataclass(frozen=True)
class AliasMoveRecord:
    id: int
    alias: str
    version: str
    previous_version: str | None
    deployment_id: int
    action: AliasAction
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


@dataclass(frozen=True)
class AuditEntryRecord:
    id: int
    ts: str
    actor: str
    action: str
    subject: str
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    problems: list[str]
