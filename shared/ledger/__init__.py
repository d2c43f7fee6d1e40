"""The ledger: one store for datasets, runs, models, approvals and the audit chain.

``Ledger.open(url)`` gives ``.runs .datasets .registry .releases .operations .monitoring
.audit .trust`` (each made on first use); every method returns the typed records
below.

Layer: beside shared.model (neither imports the other), below the guard. May import
shared.data and shared.config.
"""

from shared.ledger.engine import current_revision, db_error, head_revision, upgrade
from shared.ledger.records import (
    AliasMoveRecord,
    ApprovalRecord,
    AuditEntryRecord,
    AuditVerification,
    BatchLineage,
    DatasetRecord,
    DeploymentRecord,
    FeedbackBatchRecord,
    FeedbackEntry,
    FlowRunRecord,
    IngestRecord,
    LabelBatchRecord,
    Lineage,
    LineageDataset,
    ModelRegistration,
    ModelVersionRecord,
    MonitoringRecord,
    NewDeployment,
    QuarantineCheck,
    QuarantineExample,
    QuarantineSummary,
    ScoringBatchRecord,
    ValidationReportRecord,
)
from shared.ledger.store import Ledger
from shared.ledger.vocab import (
    Alias,
    AliasAction,
    Decision,
    FeedbackStatus,
    LedgerError,
    ModelStatus,
    RunStatus,
    parse_version,
    version_label,
)

__all__ = [
    "Alias",
    "AliasAction",
    "AliasMoveRecord",
    "ApprovalRecord",
    "AuditEntryRecord",
    "AuditVerification",
    "BatchLineage",
    "DatasetRecord",
    "Decision",
    "DeploymentRecord",
    "FeedbackBatchRecord",
    "FeedbackEntry",
    "FeedbackStatus",
    "FlowRunRecord",
    "IngestRecord",
    "LabelBatchRecord",
    "Ledger",
    "LedgerError",
    "Lineage",
    "LineageDataset",
    "ModelRegistration",
    "ModelStatus",
    "ModelVersionRecord",
    "MonitoringRecord",
    "NewDeployment",
    "QuarantineCheck",
    "QuarantineExample",
    "QuarantineSummary",
    "RunStatus",
    "ScoringBatchRecord",
    "ValidationReportRecord",
    "current_revision",
    "db_error",
    "head_revision",
    "parse_version",
    "upgrade",
    "version_label",
]
