import pandas as pd
import streamlit as st
from common import ledger, project_set
from display import break_even_chart, table

from shared.monitor.costs import economics, money, served_for

st.title("Costs and break-even")
st.caption(
    "Fixed costs (team, always-on platform) and variable costs (recorded runs) against the "
    "benefit over the rule-based baseline of each model that served production. A candidate "
    "or a shadow that never served costs its runs and brings no benefit."
)
costs = project_set().costs
if costs is None or not costs.configured:
    st.info(
        "No costs are configured for this project: give fixed_monthly and benefit in its "
        "costs file (see config/costs.yaml)."
    )
    st.stop()
econ = economics(ledger(), costs)
if not econ.per_model:
    st.info("No model has been built yet: the chart starts with the first training run.")
    st.stop()
c = econ.currency
period = (
    "its actual time in production"
    if econ.benefit_period == "time_in_production"
    else f"{costs.months_per_model:g} month(s) each"
)
a, b, d = st.columns(3)
a.metric(
    "Fixed", money(econ.fixed, c), help="Fixed cost per month x the months served models covered"
)
b.metric("Variable", money(econ.variable, c, 2), help="Instance time of every recorded run")
d.metric("Benefit", money(econ.benefit, c), help=f"Versions that served, for {period}")
e, f, g = st.columns(3)
e.metric("Net", money(econ.net, c))
f.metric("Models that served", f"{econ.served} of {len(econ.per_model)} built")
g.metric("Break-even", f"after {econ.break_even_at} model(s)" if econ.break_even_at else "not yet")
st.subheader("Cost and benefit against the number of models built that served")
if econ.chart.empty:
    st.info(
        "No model has served production yet: benefit starts with the first promotion "
        "(`renkei promote VERSION --to production`)."
    )
else:
    break_even_chart(econ.chart, c, econ.break_even_at)
    st.caption(
        "The dashed line is the fixed cost; the gap above it is the variable cost. "
        + (
            f"Benefit covers the costs from model {econ.break_even_at} that served."
            if econ.break_even_at
            else "Benefit does not cover the costs yet."
        )
    )
st.subheader("Per model built")
table(
    pd.DataFrame(
        [
            {
                "version": m.version,
                "family": m.family,
                "status": m.status,
                "production": (
                    f"served {served_for(m.months_in_production)}" if m.served else m.production
                ),
                "variable": money(m.variable_cost, c, 2),
                "search compute": (
                    f"{m.search_seconds:,.0f} task-s, {money(m.search_cost, c, 2)}"
                    if m.search_seconds
                    else "-"
                ),
                "value per month vs baseline": money(m.monthly_benefit, c),
                "months counted": f"{m.months:.2f}",
                "benefit": money(m.benefit, c),
            }
            for m in econ.per_model
        ]
    ),
    key="per_model",
)
if any(m.search_seconds for m in econ.per_model):
    st.caption(
        "Search compute: the task-seconds of a tuned version's hyperparameter search (its "
        "trials, side by side on several machines in production) at the instance price; "
        "its run's variable cost counts the run's wall time, the search included."
    )
