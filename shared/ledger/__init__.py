"""The ledger: one store for datasets, runs, models, approvals and the audit chain."""

from shared.ledger.store import (
    AuditVerification,
    DatasetRecord,
    IngestRecord,
    Ledger,
    LedgerError,
    QuarantineSummary,
)

__all__ = [
    "AuditVerification",
    "DatasetRecord",
    "IngestRecord",
    "Ledger",
    "LedgerError",
    "QuarantineSummary",
]
