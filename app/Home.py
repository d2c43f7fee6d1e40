"""Renkei: the business users' view of models, lineage, roles, guard and audit.

Run with `streamlit run app/Home.py` (or `renkei app`) from the repository root.
"""

import streamlit as st

st.set_page_config(page_title="Renkei", page_icon=":material/link:", layout="wide")

pages = [
    st.Page("views/overview.py", title="Overview", icon=":material/home:", default=True),
    st.Page("views/lineage.py", title="Lineage", icon=":material/account_tree:"),
    st.Page("views/models.py", title="Models and approvals", icon=":material/fact_check:"),
    st.Page("views/roles.py", title="Roles and ownership", icon=":material/groups:"),
    st.Page("views/guard.py", title="Guard activity", icon=":material/shield:"),
    st.Page("views/operator.py", title="Operator feedback", icon=":material/rate_review:"),
    st.Page("views/monitoring.py", title="Monitoring", icon=":material/monitoring:"),
    st.Page("views/costs.py", title="Costs", icon=":material/payments:"),
    st.Page("views/audit.py", title="Audit", icon=":material/receipt_long:"),
]
st.navigation(pages).run()
