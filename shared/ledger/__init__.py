"""The ledger: one store for datasets, runs, models, approvals and the audit chain."""

from shared.ledger.store import (
    AliasMoveRecord,
    ApprovalRecord,
    AuditVerification,
    DatasetRecord,
    DeploymentRecord,
    IngestRecord,
    LabelBatchRecord,
    Ledger,
    LedgerError,
    Lineage,
    ModelRegistration,
    ModelVersionRecord,
    QuarantineSummary,
    ScoringBatchRecord,
    parse_version,
)

__all__ = [
    "AliasMoveRecord",
    "ApprovalRecord",
    "DeploymentRecord",
    "ScoringBatchRecord",
    "AuditVerification",
    "DatasetRecord",
    "IngestRecord",
    "LabelBatchRecord",
    "Ledger",
    "LedgerError",
    "Lineage",
    "ModelRegistration",
    "ModelVersionRecord",
    "QuarantineSummary",
    "parse_version",
]
