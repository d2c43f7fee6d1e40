"""ORM rows -> typed records: the one place each record is built from its table row."""

from __future__ import annotations

from shared.ledger import models as orm
from shared.ledger.records import (
    AliasMoveRecord,
    ApprovalRecord,
    AuditEntryRecord,
    DatasetRecord,
    DeploymentRecord,
    FeedbackBatchRecord,
    FlowRunRecord,
    LabelBatchRecord,
    ModelVersionRecord,
    MonitoringRecord,
    ScoringBatchRecord,
    ValidationReportRecord,
)
from shared.ledger.vocab import AliasAction, Decision, ModelStatus, RunStatus, version_label


def optional_label(model_id: int | None) -> str | None:
    return None if model_id is None else version_label(model_id)


def flow_run(r: orm.FlowRun) -> FlowRunRecord:
    return FlowRunRecord(
        r.pathspec,
        r.user,
        r.branch,
        RunStatus(r.status),
        r.started_at,
        r.ended_at,
        (r.details or {}).get("error"),
    )


def dataset(d: orm.Dataset) -> DatasetRecord:
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


def report(r: orm.ValidationReport) -> ValidationReportRecord:
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


def label_batch(b: orm.LabelBatch) -> LabelBatchRecord:
    return LabelBatchRecord(
        b.id, b.uri, b.rows, b.source, b.dataset_version, b.recorded_by, b.created_at
    )


def model_version(m: orm.ModelVersion, datasets: list[str]) -> ModelVersionRecord:
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


def approval(a: orm.Approval) -> ApprovalRecord:
    return ApprovalRecord(
        a.id,
        version_label(a.model_id),
        a.actor,
        a.role,
        Decision(a.decision),
        a.comment,
        a.created_at,
    )


def deployment(d: orm.Deployment) -> DeploymentRecord:
    return DeploymentRecord(
        d.id,
        version_label(d.model_id),
        d.alias,
        d.rules_hash,
        d.rules_version,
        d.code_commit,
        d.bundle_uri,
        d.created_by,
        d.created_at,
        d.bundle_sha256,
    )


def alias_move(m: orm.AliasMove) -> AliasMoveRecord:
    return AliasMoveRecord(
        m.id,
        m.alias,
        version_label(m.model_id),
        optional_label(m.previous_model_id),
        m.deployment_id,
        AliasAction(m.action),
        m.actor,
        m.reason,
        m.at,
    )


def scoring_batch(b: orm.ScoringBatch) -> ScoringBatchRecord:
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


def feedback_batch(b: orm.FeedbackBatch) -> FeedbackBatchRecord:
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


def monitoring_report(r: orm.MonitoringReport) -> MonitoringRecord:
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


def audit_entry(e: orm.AuditEntry) -> AuditEntryRecord:
    return AuditEntryRecord(
        e.id, e.ts, e.actor, e.action, e.subject, e.details, e.prev_hash, e.hash
    )
