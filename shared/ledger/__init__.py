"""The ledger: one store for datasets, runs, models, approvals and the audit chain."""

from shared.ledger.store import (
    AuditVerification,
    DatasetRecord,
    IngestRecord,
    LabelBatchRecord,
    Ledger,
    LedgerError,
    Lineage,
    ModelRegistration,
    ModelVersionRecord,
    QuarantineSummary,
    parse_version,
)

__all__ = [
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
