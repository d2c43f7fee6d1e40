import streamlit as st
from common import configs, current_user, ledger
from display import decision_totals_chart

from shared.release import approval_status
from shared.reports import maturity, maturity_level

cfg, roles, rules = configs()
lg = ledger()
user = current_user()
st.title("Overview")
st.caption(f"Project **{cfg.name}** ({cfg.task}) · team phase **{roles.phase}**")
prod = lg.releases.alias("production")
c1, c2, c3 = st.columns(3)
if prod is None:
    c1.metric("Production model", "none yet")
    c2.metric("Rules version", "-")
    st.info(
        "Nothing is in production yet. Train a model, have it approved, then promote it "
        "(`renkei promote VERSION --to production --as USER`)."
    )
else:
    c1.metric("Production model", prod.version)
    c2.metric("Rules version", prod.rules_version)
candidates = [m for m in lg.registry.models() if m.status == "candidate"]
open_approvals = [m for m in candidates if not approval_status(lg, roles, m.version).complete]
c3.metric("Candidates awaiting approval", len(open_approvals))
st.subheader("Last scoring batch")
batches = lg.operations.scoring_batches()
if batches:
    b = batches[-1]
    st.write(f"Batch {b.id}: {b.rows:,} rows with {b.version} ({b.created_at:%Y-%m-%d %H:%M})")
    decision_totals_chart(b.decisions)
else:
    st.info("No scoring batch yet: `python flows/score_flow.py run`.")
st.subheader("Maturity scorecard")
facts = maturity(lg, roles)
st.write(f"From the ledger's facts this team looks **{maturity_level(facts)}**.")
st.dataframe(
    facts.assign(present=facts["present"].map({True: "✅", False: "—"})),
    hide_index=True,
    width="stretch",
)
