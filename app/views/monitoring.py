import streamlit as st
from common import configs, ledger
from display import table

from shared.monitor.shadow_evidence import shadow_evidence
from shared.reports import interval_updates, monitoring_views, scored_with_intervals

cfg, _, _ = configs()
st.title("Monitoring")
st.caption(
    "Drift against the training reference, performance on the labels that arrived, "
    "guard rates, and the retraining they triggered: scoring batches and online answers."
)
views = monitoring_views(ledger())
if views is None:
    st.info("No monitoring runs yet: `python flows/monitor_flow.py run` after some scoring.")
    st.stop()
st.subheader("Data drift per feature (PSI) over time")
st.line_chart(views.drift)
m = cfg.monitoring
st.caption(f"Alert above PSI {m.psi_alert} (or a KS / chi-square p-value under {m.ks_pvalue}).")
st.subheader("Performance with label coverage")
table(views.performance, words={"decay": "not measured"}, key="performance")
st.subheader("Interval coverage over time")
if views.coverage.empty:
    st.info(
        "No interval coverage measured yet: it needs a model trained with intervals and "
        f"at least {m.min_labelled_rows} labelled answers."
    )
else:
    st.line_chart(views.coverage)
    last = views.coverage.iloc[-1]
    st.caption(
        f"Share of labelled answers inside their conformal interval: {last['coverage']:.1%} "
        f"in the newest report; alert below {last['alert below']:.0%} (nominal minus "
        f"{m.max_coverage_drop:.0%})."
        + (
            f" Without adaptation (the calibrated quantile) it would be "
            f"{last['without adaptation']:.1%}."
            if "without adaptation" in last
            and last["without adaptation"] == last["without adaptation"]
            else ""
        )
    )
updates = interval_updates(ledger())
if not updates.empty:
    st.caption(
        "Adaptive intervals: each move of an alias's interval quantile from arriving labels "
        "(config intervals.adaptive)"
    )
    st.dataframe(updates, hide_index=True, width="stretch")
sample = scored_with_intervals(ledger())
if not sample.empty:
    st.caption("Newest scored answers with their intervals")
    st.dataframe(sample, hide_index=True, width="stretch")
st.subheader("Guard rate above the holdout's")
st.bar_chart(views.guard)
st.subheader("Retraining events")
if views.retrains.empty:
    st.success("No check has asked for retraining.")
else:
    table(views.retrains, key="retrains")
st.subheader("Shadow challenger vs production")
shadow = shadow_evidence(ledger(), None)
if shadow is None:
    st.write("No shadow comparison yet: `renkei shadow VERSION --alias production`.")
else:
    st.write(f"Report {shadow.report_id}: {shadow.comparison.summary()}")
    st.dataframe(shadow.slices_frame(), hide_index=True, width="stretch", key="shadow_slices")
st.subheader("Newest report")
table(views.latest, words={"value": "not measured"}, key="latest")
