import pandas as pd
import streamlit as st
from common import acting_for, configs, current_user, ledger, member

from shared.operate.feedback import apply_feedback, can_give_feedback, scored_rows
from shared.trust.keys import KeyError_
from shared.trust.release_key import release_keys

cfg, roles, _ = configs()
lg = ledger()
user = current_user()
st.title("Operator feedback")
st.caption(
    "Flag a prediction that was wrong and enter the true value. It is recorded with "
    "your name and joins the labels monitoring uses."
)
scored = scored_rows(lg)
if scored.empty:
    st.info("No scored rows yet: run the score flow first.")
    st.stop()
recent = scored.sort_values("scored_at").tail(200)
st.dataframe(recent, hide_index=True, width="stretch")
if user is None:
    st.info("Sign in to give feedback.")
    st.stop()
who = member(user)  # a signed-in user's login mapped to the member (roles.yaml)
if not can_give_feedback(roles, who):
    st.warning(f"{user} is not an ML Operator or Operator: feedback is open to those roles.")
    st.stop()
with st.form("feedback"):
    choices = {  # ids are unique per scoring batch: a label is for one batch's row
        f"{r} (batch {b})": (r, int(b))
        for r, b in zip(recent["row_id"], recent["scoring_batch_id"], strict=True)
    }
    picked = st.selectbox("Prediction (row id, scoring batch)", list(choices)[::-1], key="fb_row")
    rid, batch = choices[picked]
    if cfg.task == "multiclass":  # the true class, by name
        value = st.selectbox(f"True {cfg.target}", cfg.classes or [], key="fb_value")
    else:
        value = st.number_input(f"True {cfg.target}", min_value=0.0, value=30.0, key="fb_value")
    note = st.text_input("Note", key="fb_note")
    send = st.form_submit_button("Flag and record", type="primary")
if send:
    try:
        with acting_for(user):  # signed in: sealed and anchored with the app's service key
            out = apply_feedback(
                lg,
                cfg,
                pd.DataFrame({cfg.id_column: [rid], cfg.target: [value]}),
                "app",
                who,
                flagged=True,
                note=note,
                scoring_batch=batch,
                keys=release_keys(roles.identity, cfg.storage.data_root),
            )
    except KeyError_ as e:
        st.error(str(e))
        st.stop()
    notes = {"duplicate": " (this row already had a label: the first one stands)"}
    show = st.success if out.status in ("accepted", "late") else st.warning
    show(f"Recorded for {rid}: {out.status}" + notes.get(out.status, ""))
