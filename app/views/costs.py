import pandas as pd
import streamlit as st
from common import ledger, project_set

from shared.monitor.costs import economics

st.title("Costs and break-even")
st.caption(
    "Fixed costs (team, always-on platform) and variable costs (recorded runs) against "
    "the benefit of each model over the rule-based baseline."
)
econ = economics(ledger(), project_set().costs)
if econ.chart.empty:
    st.info("No model has been built yet: the chart starts with the first training run.")
    st.stop()
c = econ.currency
a, b, d, e = st.columns(4)
a.metric(f"Fixed ({c})", f"{econ.fixed:,.0f}")
b.metric(f"Variable ({c})", f"{econ.variable:,.2f}")
d.metric(f"Benefit ({c})", f"{econ.benefit:,.0f}")
e.metric("Break-even", f"after {econ.break_even_at} model(s)" if econ.break_even_at else "not yet")
st.subheader("Cost and benefit against the number of models built")
st.line_chart(econ.chart.set_index("models_built")[["fixed", "total_cost", "benefit"]])
st.subheader("Per model")
st.dataframe(
    pd.DataFrame([{**vars(m), "benefit": m.benefit} for m in econ.per_model]),
    hide_index=True,
    width="stretch",
)
