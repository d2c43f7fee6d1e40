import pandas as pd
import streamlit as st
from common import configs, ledger

cfg, _, _ = configs()
lg = ledger()
st.title("Monitoring")
st.caption(
    "Drift against the training reference, performance on the labels that arrived, "
    "guard rates, and the retraining they triggered."
)
reports = lg.monitoring_reports()
if not reports:
    st.info("No monitoring runs yet: `python flows/monitor_flow.py run` after some scoring.")
    st.stop()
rows = []
for r in reports:
    for c in r.checks:
        rows.append(
            {
                "report": r.id,
                "at": r.created_at,
                "check": c["name"],
                "kind": c["kind"],
                "value": c["value"],
                "threshold": c["threshold"],
                "verdict": c["verdict"],
            }
        )
checks = pd.DataFrame(rows)
drift = checks[checks["kind"] == "data_drift"].assign(
    feature=lambda d: d["check"].str.removeprefix("drift:")
)
st.subheader("Data drift per feature (PSI) over time")
st.line_chart(drift.pivot_table(index="report", columns="feature", values="value"))
st.caption(
    f"Alert above PSI {cfg.monitoring.psi_alert} (or a KS / chi-square p-value under {cfg.monitoring.ks_pvalue})."
)
st.subheader("Performance with label coverage")
perf = pd.DataFrame(
    [
        {
            "report": r.id,
            "label coverage": r.label_coverage,
            "decay": next((c["value"] for c in r.checks if c["name"] == "performance"), None),
        }
        for r in reports
    ]
)
st.dataframe(perf, hide_index=True, width="stretch")
st.subheader("Guard rate above the holdout's")
st.bar_chart(checks[checks["kind"] == "guard"].set_index("report")["value"])
st.subheader("Retraining events")
events = [
    {
        "report": r.id,
        "at": r.created_at,
        "model": r.version,
        "why": "; ".join(r.reasons),
        "run": r.retrain_run or "not started",
    }
    for r in reports
    if r.retrain
]
if events:
    st.dataframe(pd.DataFrame(events), hide_index=True, width="stretch")
else:
    st.success("No check has asked for retraining.")
st.subheader("Newest report")
last = reports[-1]
st.dataframe(
    pd.DataFrame(last.checks)[["name", "verdict", "value", "threshold", "detail"]],
    hide_index=True,
    width="stretch",
)
