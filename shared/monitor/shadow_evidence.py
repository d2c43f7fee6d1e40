"""The shadow evidence an approver sees: the comparison's records (champion vs challenger, as
the monitor flow stores them in its reports), the newest one of a version
(:func:`shadow_evidence`, shown by the app and `renkei approve`) and the audit record that an
approver saw it before deciding (:func:`record_seen`).

The comparison itself (per-row errors, the paired bootstrap) is shared.monitor.shadow; this
module loads neither pandas nor Pandera, so a decision made on the command line does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only by callers that open it
    import pandas as pd

    from shared.ledger import ApprovalRecord, Ledger


class ShadowVerdict(StrEnum):
    BETTER = "better"  # the challenger errs less: the whole interval below zero
    WORSE = "worse"
    NO_DIFFERENCE = "no difference"
    NOT_ENOUGH_ROWS = "not enough rows"


@dataclass(frozen=True)
class Difference:
    """Mean per-row error of each and the challenger-minus-champion difference with its CI."""

    rows: int
    champion: float | None
    challenger: float | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str  # a ShadowVerdict


@dataclass(frozen=True)
class ShadowComparison:
    champion: str
    challenger: str
    error: str  # what a row's error is
    overall: Difference
    slices: dict[str, Difference] = field(default_factory=dict)  # "zone=north" -> ...
    guard_rates: dict[str, float] = field(default_factory=dict)  # champion / challenger
    rows_scored: int = 0  # rows both answered (labelled or not)
    sources: dict[str, int] = field(default_factory=dict)  # batch / online rows labelled

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict[str, Any]) -> ShadowComparison:
        return ShadowComparison(
            **{
                **d,
                "overall": Difference(**d["overall"]),
                "slices": {k: Difference(**v) for k, v in d.get("slices", {}).items()},
            }
        )

    def summary(self) -> str:
        o = self.overall
        if o.difference is None:
            return f"{self.challenger} vs {self.champion}: {o.verdict} ({o.rows:,} labelled rows)"
        return (
            f"{self.challenger} vs {self.champion} on {o.rows:,} labelled rows: {self.error} "
            f"{o.challenger:.3f} vs {o.champion:.3f}, difference {o.difference:+.3f} "
            f"(95% CI {o.ci_low:+.3f} to {o.ci_high:+.3f}): {o.verdict}"
        )


def latest_evidence(reports: list[Any], version: str | None) -> tuple[Any, ShadowComparison] | None:
    """The newest monitoring report comparing challenger ``version`` (any challenger when
    None), and its comparison."""
    for r in reversed(reports):
        for check in r.checks:
            ev = check.get("evidence")
            if (
                check.get("kind") == "shadow"
                and ev
                and (version is None or ev.get("challenger") == version)
            ):
                return r, ShadowComparison.from_dict(ev)
    return None


SEEN = "model.shadow_evidence_seen"


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
        """The per-slice differences as a checked frame (the app's table)."""
        import pandas as pd

        from shared.monitor.shadow import SliceRow  # Pandera: loaded only for this table

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
