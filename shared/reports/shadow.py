"""The shadow challenger's evidence as the app and `renkei approve` show it: the newest
monitoring comparison of a version with production on arrived labels (shared.monitor.shadow),
and the audit record that an approver saw it before deciding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.ledger import ApprovalRecord, Ledger
from shared.monitor.shadow import ShadowComparison, latest_evidence

SEEN = "model.shadow_evidence_seen"


class SliceRow(pa.DataFrameModel):
    slice: Series[str]
    rows: Series[int]
    champion: Series[float] = pa.Field(nullable=True)
    challenger: Series[float] = pa.Field(nullable=True)
    difference: Series[float] = pa.Field(nullable=True)
    ci_low: Series[float] = pa.Field(nullable=True)
    ci_high: Series[float] = pa.Field(nullable=True)
    verdict: Series[str]


@dataclass(frozen=True)
class ShadowEvidence:
    report_id: int
    at: datetime
    comparison: ShadowComparison

    def lines(self) -> list[str]:
        """The evidence in a few lines (the CLI's approval display)."""
        c = self.comparison
        g = c.guard_rates
        out = [
            f"shadow evidence (monitoring report {self.report_id}, {self.at:%Y-%m-%d %H:%M}):",
            f"  {c.summary()}",
            f"  guard rate: challenger {g.get('challenger', 0):.1%}, "
            f"champion {g.get('champion', 0):.1%} on {c.rows_scored:,} rows both answered",
        ]
        for name, d in c.slices.items():
            if d.difference is not None:
                out.append(f"  {name}: {d.difference:+.3f} ({d.verdict}, {d.rows:,} rows)")
        return out

    def slices_frame(self) -> pd.DataFrame:
        rows = [
            {"slice": k, **{f: getattr(d, f) for f in list(SliceRow.to_schema().columns)[1:]}}
            for k, d in self.comparison.slices.items()
        ]
        frame = pd.DataFrame(rows, columns=list(SliceRow.to_schema().columns))
        floats = ["champion", "challenger", "difference", "ci_low", "ci_high"]
        return SliceRow.validate(
            frame.astype({**dict.fromkeys(floats, float), "rows": int, "slice": str})
        )


def shadow_evidence(ledger: Ledger, version: str | None) -> ShadowEvidence | None:
    """The newest shadow comparison of ``version`` (of any challenger when None) against
    production, or None."""
    found = latest_evidence(ledger.monitoring.reports(), version)
    if found is None:
        return None
    report, comparison = found
    return ShadowEvidence(report.id, report.created_at, comparison)


def record_seen(ledger: Ledger, actor: str, approval: ApprovalRecord, ev: ShadowEvidence) -> None:
    """Audit that ``actor`` saw the shadow evidence when deciding ``approval``."""
    ledger.audit.append(
        actor,
        SEEN,
        approval.version,
        {
            "approval": approval.id,
            "decision": approval.decision,
            "monitoring_report": ev.report_id,
            "verdict": ev.comparison.overall.verdict,
            "summary": ev.comparison.summary(),
        },
    )
