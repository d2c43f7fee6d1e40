import streamlit as st
from common import ledger

from shared.views import audit_frame, filter_audit

lg = ledger()
st.title("Audit")
result = lg.audit.verify()
if result.ok:
    st.success(f"Audit chain verified: {result.entries} entries, every hash matches.")
else:
    st.error("Audit chain BROKEN: " + "; ".join(result.problems))
frame = audit_frame(lg)
if frame.empty:
    st.info("The audit chain is empty.")
    st.stop()
a, b = st.columns(2)
actors = a.multiselect("Actor", sorted(frame["actor"].unique()))
actions = b.multiselect("Action", sorted(frame["action"].unique()))
shown = filter_audit(frame, actors, actions)
st.dataframe(shown.sort_values("id", ascending=False), hide_index=True, width="stretch")
