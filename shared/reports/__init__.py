"""What the app shows, computed from the ledger and the configs. Pages only display it.

Every frame that reaches a page is checked against a Pandera model here: ``lineage``
(models frame, lineage graph), ``governance`` (RACI, role gaps, maturity), ``audit``
(the audit chain frame), ``activity`` (guard activity, monitoring checks).

Layer: reports, above the lifecycle. May import the lifecycle (shared.monitor, shared.operate,
shared.release, shared.trust, shared.training, shared.deploy) and every layer below it; never
shared.pipeline, shared.cli or shared.flowkit.
"""

from .activity import (
    CheckRow,
    MonitoringViews,
    guard_activity,
    interval_coverage,
    monitoring_views,
    scored_with_intervals,
)
from .audit import AuditRow, audit_frame, filter_audit
from .governance import (
    PHASE_ROLES,
    RoleGaps,
    draft_message,
    maturity,
    maturity_level,
    raci_matrix,
    role_gaps,
    who_did_what,
)
from .intervals import IntervalUpdateRow, interval_updates
from .lineage import EdgeRow, Graph, ModelRow, NodeRow, lineage_graph, models_frame

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
