"""What happened in operation: guard activity per scoring batch and the monitoring checks over time."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.data import storage
from shared.ledger import Ledger
from shared.monitor.adaptive import STATIC


def guard_activity(
    ledger: Ledger, batches: int = 20
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Decisions per scoring batch over time, top reasons, and example intervened rows."""
    recent = ledger.operations.scoring_batches()[-batches:]
    over_time = pd.DataFrame(
        [{"batch": b.id, "at": b.created_at, **b.decisions} for b in recent],
        columns=["batch", "at", "model", "corrected", "fallback", "rejected"],
    )
    outputs = []
    for b in recent[-5:]:
        try:
            outputs.append(storage.read_parquet(b.output_uri).assign(batch=b.id))
        except FileNotFoundError:
            continue
    if not outputs:
        empty = pd.DataFrame(columns=["reason", "rows"])
        return over_time, empty, pd.DataFrame()
    out = pd.concat(outputs, ignore_index=True)
    reasons = Counter(r for rs in out["reasons"] for r in str(rs).split("; ") if r)
    top = pd.DataFrame(reasons.most_common(15), columns=["reason", "rows"])
    examples = out[out["decision"].isin(["corrected", "fallback"])].head(20)
    return over_time, top, examples


def online_activity(data_root: str, alias: str = "production") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Online answers (captured by the service) per day and decision, beside the batches;
    and the newest captured answers (with the shadow challenger's, when one answered)."""
    from shared.operate.captured import read_capture

    rows = read_capture(data_root, alias)
    cols = ["day", "model", "corrected", "fallback", "rejected"]
    if rows.empty:
        return pd.DataFrame(columns=cols), rows
    per_day = (
        rows.assign(day=rows["received_at"].dt.strftime("%Y-%m-%d"))
        .pivot_table(index="day", columns="decision", values="request_id", aggfunc="count")
        .reindex(columns=cols[1:], fill_value=0)
        .fillna(0)
        .astype(int)
        .reset_index()
    )
    shown = ["received_at", "request_id", "row_id", "caller", "model_version", "prediction"]
    shown += ["decision", "reasons", "shadow_version", "shadow_prediction", "shadow_decision"]
    return per_day[cols], rows[shown].tail(20).iloc[::-1].reset_index(drop=True)


class CheckRow(pa.DataFrameModel):
    """One check of one monitoring run."""

    report: Series[int]
    check: Series[str]
    kind: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    threshold: Series[float]
    verdict: Series[str] = pa.Field(isin=["ok", "alert", "skipped", "not enough rows"])


@dataclass(frozen=True)
class MonitoringViews:
    drift: pd.DataFrame  # report time x feature -> PSI
    performance: pd.DataFrame  # report, at, label coverage, decay
    guard: pd.DataFrame  # report time -> guard rate above the holdout's
    retrains: pd.DataFrame  # report, at, model, why, run
    latest: pd.DataFrame  # the newest report's checks with their details
    # report time -> empirical interval coverage on arrived labels, and the alert floor
    coverage: pd.DataFrame = field(default_factory=pd.DataFrame)


def monitoring_views(ledger: Ledger) -> MonitoringViews | None:
    """The Monitoring page's tables, from the ledger's monitoring reports (None: no runs)."""
    reports = ledger.monitoring.reports()
    if not reports:
        return None
    checks = CheckRow.validate(
        pd.DataFrame(
            [
                {
                    "report": r.id,
                    "check": c["name"],
                    "kind": c["kind"],
                    "value": c["value"],
                    "threshold": c["threshold"],
                    "verdict": c["verdict"],
                }
                for r in reports
                for c in r.checks
            ]
        ).astype({"value": float, "threshold": float})
    )
    drift = checks[checks["kind"] == "data_drift"].assign(
        feature=lambda d: d["check"].str.removeprefix("drift:")
    )
    perf = checks[checks["check"] == "performance"].set_index("report")["value"]
    performance = pd.DataFrame(
        {"report": [r.id for r in reports], "label coverage": [r.label_coverage for r in reports]}
    ).assign(decay=lambda d: d["report"].map(perf))
    retrains = pd.DataFrame(
        [
            {
                "report": r.id,
                "at": r.created_at,
                "model": r.version,
                "why": "; ".join(r.reasons),
                "run": r.retrain_run or "not started",
            }
            for r in reports
            if r.retrain
        ],
        columns=["report", "at", "model", "why", "run"],
    )
    latest = pd.DataFrame(reports[-1].checks)[["name", "verdict", "value", "threshold", "detail"]]
    when = {r.id: pd.Timestamp(r.created_at) for r in reports}

    def dated(frame: pd.DataFrame) -> pd.DataFrame:  # time axes are dates, not report ids
        out = frame.rename(index=when)
        out.index = pd.DatetimeIndex(out.index, name="monitored at")
        return out

    return MonitoringViews(
        dated(drift.pivot_table(index="report", columns="feature", values="value")),
        performance.assign(at=performance["report"].map(when))[
            ["report", "at", "label coverage", "decay"]
        ],
        dated(
            checks[checks["kind"] == "guard"]
            .set_index("report")["value"]
            .to_frame("guard rate increase")
        ),
        retrains,
        latest,
        dated(interval_coverage(checks)),
    )


def interval_coverage(checks: pd.DataFrame) -> pd.DataFrame:
    """Empirical coverage of the answers' intervals per monitoring report (measured ones
    only) beside the floor under which it alerts (nominal minus max_coverage_drop)."""
    cov = checks[(checks["check"] == "interval_coverage") & checks["value"].notna()]
    out = cov.set_index("report")[["value", "threshold"]].rename(
        columns={"value": "coverage", "threshold": "alert below"}
    )
    # adaptive intervals: the same labels at the calibrated quantile (shared.monitor.adaptive)
    static = checks[(checks["check"] == STATIC) & checks["value"].notna()]
    if not static.empty:
        out["without adaptation"] = static.set_index("report")["value"].reindex(out.index)
    return out


def scored_with_intervals(ledger: Ledger, rows: int = 10, batch: int | None = None) -> pd.DataFrame:
    """A few answers of scoring batch ``batch`` (default: the newest) with their intervals
    (empty: no such batch, or its model has no intervals); multiclass: the predicted class,
    the prediction set and one probability column per class."""
    batches = [b for b in ledger.operations.scoring_batches() if batch in (None, b.id)]
    if not batches:
        return pd.DataFrame()
    try:
        out = storage.read_parquet(batches[-1].output_uri)
    except FileNotFoundError:
        return pd.DataFrame()
    if "prediction_set" in out:  # multiclass: the class, its set, one probability per class
        probs = [c for c in out.columns if c.startswith("p_")]
        cols = ["row_id", "predicted_class", "prediction_set", *probs, "decision", "reasons"]
        return out.loc[out["decision"] != "rejected", cols].head(rows)
    if "interval_low" not in out:
        return pd.DataFrame()
    cols = ["row_id", "prediction", "interval_low", "interval_high", "decision", "reasons"]
    return out.loc[out["decision"] != "rejected", cols].head(rows)
