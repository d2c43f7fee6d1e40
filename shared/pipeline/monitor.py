"""The monitor flow's first step: every check over the production model's recent batches,
recorded with its verdict (the retraining itself is started by the flow)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.config import ProjectConfig
from shared.monitor.monitoring import MonitoringResult, monitor, record

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only where a step opens it
    from shared.ledger import Ledger, MonitoringRecord

__all__ = ["Checked", "check"]


@dataclass
class Checked:
    result: MonitoringResult
    report: MonitoringRecord


def check(
    ledger: Ledger, cfg: ProjectConfig, window: int | None, flow_run: str | None, actor: str
) -> Checked:
    """Run every monitoring check over the newest ``window`` scoring batches (None: the
    configured window) and record the verdict and whether to retrain."""
    result = monitor(ledger, cfg, window)
    return Checked(result, record(ledger, cfg, result, flow_run, actor))
