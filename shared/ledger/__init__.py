"""The ledger: one store for datasets, runs, models, approvals and the audit chain.

``Ledger.open(url)`` gives ``.runs .datasets .registry .releases .operations .monitoring
.audit .trust`` (each made on first use); every method returns the typed records
of its aggregate, defined in the aggregate's module (``tables`` holds every aggregate's
table) and re-exported here, each imported on first use.

Layer: beside shared.model (neither imports the other), below the guard. May import
shared.data and shared.config.
"""

from shared.config.exports import lazy_exports
from shared.ledger.engine import current_revision, db_error, head_revision, upgrade
from shared.ledger.records import RECORD_MODULES
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

# Each record from its aggregate's module on first use (PEP 562): the scoring service, which
# reads deployments, does not load the datasets' or the registry's repositories
# (shared.ledger.records serves the same names at their old path, for old pickles).
__getattr__ = lazy_exports(__name__, RECORD_MODULES)

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
