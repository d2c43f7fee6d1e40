"""What the app shows, computed from the ledger and the configs. Pages only display it.

Every frame that reaches a page is checked against a Pandera model here: ``lineage``
(models frame, lineage graph), ``governance`` (RACI, role gaps, maturity), ``audit``
(the audit chain frame), ``activity`` (guard activity, monitoring checks).

Layer: reports, above the lifecycle. May import the lifecycle (shared.monitor, shared.operate,
shared.release, shared.trust, shared.training, shared.deploy) and every layer below it; never
shared.pipeline, shared.cli or shared.flowkit.
"""

# each name from its own module, imported when first asked for: a command that reads one
# report (``renkei models``, ``renkei audit log``) loads neither pandas nor Pandera for the
# others (PEP 562)
from shared.config.exports import lazy_exports

__getattr__ = lazy_exports(
    __name__,
    {
        "CheckRow": "activity",
        "MonitoringViews": "activity",
        "guard_activity": "activity",
        "interval_coverage": "activity",
        "monitoring_views": "activity",
        "scored_with_intervals": "activity",
        "AuditRow": "audit",
        "audit_frame": "audit",
        "filter_audit": "audit",
        "PHASE_ROLES": "governance",
        "RoleGaps": "governance",
        "draft_message": "governance",
        "maturity": "governance",
        "maturity_level": "governance",
        "raci_matrix": "governance",
        "role_gaps": "governance",
        "who_did_what": "governance",
        "IntervalUpdateRow": "intervals",
        "interval_updates": "intervals",
        "EdgeRow": "lineage",
        "Graph": "lineage",
        "ModelRow": "lineage",
        "NodeRow": "lineage",
        "lineage_graph": "lineage",
        "models_frame": "lineage",
    },
)


__all__ = [
    "AuditRow",
    "CheckRow",
    "EdgeRow",
    "IntervalUpdateRow",
    "Graph",
    "ModelRow",
    "MonitoringViews",
    "NodeRow",
    "PHASE_ROLES",
    "RoleGaps",
    "audit_frame",
    "draft_message",
    "filter_audit",
    "guard_activity",
    "interval_coverage",
    "interval_updates",
    "lineage_graph",
    "maturity",
    "maturity_level",
    "models_frame",
    "monitoring_views",
    "raci_matrix",
    "role_gaps",
    "scored_with_intervals",
    "who_did_what",
]
