import pandas as pd
import streamlit as st
from common import configs, ledger
from display import decisions_chart, labelled_bars, table

from shared.guard.bundle import BundleError
from shared.guard.explain import explanation_frame
from shared.ledger import LedgerError
from shared.release import load_alias
from shared.reports import guard_activity
from shared.reports.activity import online_activity
from shared.reports.explained import explained_scores
from shared.reports.whatif import what_if_explained
from shared.trust.release_key import release_keys


def explain_answer(answer: pd.Series, why: dict | None) -> None:
    """One answer: the guard's decision and reasons beside what drove the model's answer."""
    left, right = st.columns(2)
    left.write(f"Decision: **{answer['decision']}**")
    left.write("Rules that fired: " + (str(answer["reasons"] or "") or "none"))
    if why is None:
        right.write("No answer to explain (rejected).")
        return
    cls = f" for class {why['explained_class']}" if why.get("explained_class") else ""
    right.write(
        f"Explained by **{why['explained_by']}** ({why['method']}{cls}), in {why['scale']}: "
        f"{why['bias']:.3g} (bias) + contributions = {why['raw']:.4g}"
    )
    if why.get("rule"):
        right.write(f"Rule: {why['rule']}")
    frame = explanation_frame(why)
    labelled_bars(frame.iloc[:-2], "feature", "contribution")
    table(frame, formats={"contribution": "{:+.3f}"}, key=f"why_{answer['row_id']}")


NO_SHADOW = {
    "reasons": "none",
    "shadow_version": "no shadow",
    "shadow_prediction": "no shadow",
    "shadow_decision": "no shadow",
}
cfg, roles, _ = configs()
lg = ledger()
st.title("Guard activity")
st.caption("How often the Software 1.0 rules stepped in around the model, and why.")
over_time, top, examples = guard_activity(lg)
if over_time.empty:
    st.info("No scoring batches yet: `python flows/score_flow.py run` after a promotion.")
else:
    st.subheader("Decisions per scoring batch")
    decisions_chart(over_time, "batch", "scoring batch")
    st.subheader("Top reasons (newest batches)")
    labelled_bars(top, "reason", "rows")
    st.subheader("Examples of corrected and fallback rows")
    table(examples, words={"reasons": "none"}, key="guard_examples")
    st.subheader("Why this answer? (newest batch)")
    try:
        found = explained_scores(lg, release_keys(roles.identity, cfg.storage.data_root), 200)
    except (BundleError, LedgerError, FileNotFoundError) as e:
        st.error(f"Cannot explain the newest batch: {e}")
    else:
        answers = found.answers
        if answers.empty:
            st.info("The newest batch has no answers to explain.")
        else:
            pick = st.selectbox("Answer (row id)", answers["row_id"].tolist(), key="explain_row")
            i = answers["row_id"].tolist().index(pick)
            explain_answer(answers.iloc[i], found.explanations[i])
st.subheader("Online traffic (renkei serve), beside the batches")
per_day, recent = online_activity(cfg.storage.data_root)
if per_day.empty:
    st.info("No online answers captured yet: `renkei serve` records every answer it gives.")
else:
    decisions_chart(per_day, "day", "day")
    st.caption("Newest online answers (a shadow challenger's answer beside, never returned):")
    table(recent, words=NO_SHADOW, key="online_recent")
st.subheader("What if?")
try:
    keys = release_keys(roles.identity, cfg.storage.data_root)
    found = load_alias(lg, keys=keys)  # digest and release signature verified
except BundleError as e:
    st.error(f"The production bundle is refused: {e}")
    st.stop()
if found is None:
    st.info("Promote a model to production to try it here.")
    st.stop()
dep, guarded = found
with st.form("whatif"):
    row, missing = {}, set()
    cols = st.columns(3)
    for i, (name, spec) in enumerate(cfg.features.items()):
        c, key = cols[i % 3], f"whatif_{name}"
        if spec.type == "category":
            row[name] = c.selectbox(name, spec.values or [], key=key)
        elif spec.type == "bool":
            row[name] = c.checkbox(name, key=key)
        elif spec.type == "int":
            row[name] = c.number_input(name, value=int(spec.min or 0), step=1, key=key)
        else:
            row[name] = c.number_input(name, value=float(spec.min or 0) + 1.0, key=key)
        if spec.nullable and c.checkbox(f"{name}: missing", key=f"whatif_missing_{name}"):
            missing.add(name)
    if cfg.nullable_features:
        st.caption("A nullable feature may be missing: tick its box to ask without it.")
    go = st.form_submit_button("Ask the guarded model", type="primary")
if go:
    out, why = what_if_explained(guarded, cfg, row, missing)
    if missing:
        st.write("Asked without: " + ", ".join(sorted(missing)))
    if cfg.task == "multiclass":  # the class, its probability, its set and every class's
        answered = not pd.isna(out["prediction"])
        st.metric(
            f"{cfg.target} ({dep.version})",
            f"{out['predicted_class']} ({out['prediction']:.0%})" if answered else "no answer",
        )
        if answered:
            if "prediction_set" in out:
                st.write(f"Prediction set: **{out['prediction_set'].replace('|', ', ')}**")
            probs = {c: out[f"p_{c}"] for c in cfg.classes or []}
            st.bar_chart(pd.Series(probs, name="probability"))
    else:
        st.metric(
            f"{cfg.target} ({dep.version})",
            "no answer" if pd.isna(out["prediction"]) else f"{out['prediction']:.1f}",
        )
    st.subheader("Why this answer?")
    explain_answer(out, why)
