import streamlit as st
from common import ledger, project_set

from shared.reports import audit_frame, filter_audit
from shared.reports.trust import audit_trust

lg = ledger()
pset = project_set()
st.title("Audit")
result = lg.audit.verify()
if result.ok:
    st.success(f"Audit chain verified: {result.entries} entries, every hash matches.")
else:
    st.error("Audit chain BROKEN: " + "; ".join(result.problems))
trust = audit_trust(lg, pset.roles.identity, pset.project.storage.data_root)
for problem in trust["problems"]:
    st.error(f"Anchor: {problem}")
frame = audit_frame(lg)
if frame.empty:
    st.info("The audit chain is empty.")
    st.stop()
st.caption(
    f"{trust['anchors']} anchor(s) outside the database. Full check (state tables, every "
    "signature): renkei audit verify"
)
frame["signature"] = frame["id"].map(trust["signature"]).fillna("")
frame["anchor"] = frame["id"].map(trust["anchor"])
a, b = st.columns(2)
actors = a.multiselect("Actor", sorted(frame["actor"].unique()))
actions = b.multiselect("Action", sorted(frame["action"].unique()))
shown = filter_audit(frame, actors, actions)
st.dataframe(shown.sort_values("id", ascending=False), hide_index=True, width="stretch")
