"""Old class paths of the ledger's records, for Metaflow artifacts pickled before each record
moved into its aggregate's module (runs, datasets, registry, releases, operations,
monitoring, audit): ``shared.ledger.records.IngestRecord`` still unpickles. New code imports
them from ``shared.ledger``."""

from shared.config.exports import lazy_exports

# the aggregate module of each record; shared.ledger serves the same names lazily
RECORD_MODULES = {
    "AliasMoveRecord": "releases",
    "ApprovalRecord": "releases",
    "AuditEntryRecord": "audit",
    "AuditVerification": "audit",
    "BatchLineage": "operations",
    "DatasetRecord": "datasets",
    "DeploymentRecord": "releases",
    "FeedbackBatchRecord": "operations",
    "FeedbackEntry": "operations",
    "FlowRunRecord": "runs",
    "IngestRecord": "datasets",
    "LabelBatchRecord": "datasets",
    "Lineage": "registry",
    "LineageDataset": "registry",
    "ModelRegistration": "registry",
    "ModelVersionRecord": "registry",
    "MonitoringRecord": "monitoring",
    "NewDeployment": "releases",
    "QuarantineCheck": "datasets",
    "QuarantineExample": "datasets",
    "QuarantineSummary": "datasets",
    "ScoringBatchRecord": "operations",
    "ValidationReportRecord": "datasets",
}

__getattr__ = lazy_exports("shared.ledger", RECORD_MODULES)
