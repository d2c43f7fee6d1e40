import streamlit as st
from common import configs, ledger

from shared.reports import draft_message, raci_matrix, role_gaps, who_did_what

cfg, roles, _ = configs()
lg = ledger()
st.title("Roles and ownership")
st.caption(f"Phase **{roles.phase}** · approval needs: {', '.join(roles.approval.required_roles)}")
st.subheader("RACI by lifecycle stage")
st.dataframe(raci_matrix(roles), width="stretch")
st.subheader("Members")
st.dataframe(
    [{"role": r, "members": ", ".join(p) or "—"} for r, p in roles.members.items()],
    hide_index=True,
    width="stretch",
)
gaps = role_gaps(roles)
st.subheader("Gaps")
if gaps.unaccountable_stages:
    st.warning("No one accountable for: " + ", ".join(gaps.unaccountable_stages))
if gaps.missing_for_phase:
    st.warning(
        f"Roles the {roles.phase} phase needs that nobody holds: "
        + ", ".join(gaps.missing_for_phase)
    )
if not gaps.unaccountable_stages and not gaps.missing_for_phase:
    st.success("Every stage has someone accountable and the phase's roles are filled.")
if gaps.multi_role_people:
    st.write(
        "People holding many roles: "
        + "; ".join(f"**{p}** ({', '.join(r)})" for p, r in gaps.multi_role_people.items())
    )
st.subheader("Who actually did what (from the ledger)")
done = who_did_what(lg)
if done.empty:
    st.info("Nothing recorded yet.")
else:
    st.dataframe(done, hide_index=True, width="stretch")
st.subheader("Message to the product manager and architect")
if st.button("Draft the message"):
    st.session_state["draft"] = draft_message(roles, lg)
if "draft" in st.session_state:
    st.markdown(st.session_state["draft"])
    st.download_button(
        "Download as Markdown", st.session_state["draft"], file_name="renkei-next-steps.md"
    )
