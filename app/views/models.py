import pandas as pd
import streamlit as st
from common import anchored_by, configs, current_user, ledger, member, signer
from display import table

from shared.ledger.releases import shadow_alias
from shared.monitor.shadow_evidence import record_seen, shadow_evidence
from shared.release import (
    ReleaseRefused,
    approval_status,
    can_release,
    eligible_roles,
    review,
    rollback,
)
from shared.reports import models_frame
from shared.reports.champion import champion_on_holdout
from shared.reports.classes import class_report
from shared.reports.study import study_of
from shared.reports.trust import approval_signatures
from shared.trust.keys import KeyError_
from shared.trust.release_key import release_keys

cfg, roles, _ = configs()
lg = ledger()
user = current_user()
st.title("Models and approvals")
frame = models_frame(lg, limit=500)
if frame.empty:
    st.info("No model versions yet: `python flows/train_flow.py run` after an ingest.")
    st.stop()
status = st.multiselect(
    "Status",
    sorted(frame["status"].unique()),
    key="status_filter",
    default=[s for s in ("candidate", "passed", "rejected") if s in set(frame["status"])],
)
shown = frame[frame["status"].isin(status)] if status else frame
table(
    shown,
    words={"production_value": "not measured"},
    formats={
        "vs_baseline": "{:+.1%}",
        "value": "{:.4g}",
        "baseline": "{:.4g}",
        "production_value": "{:.4g}",
    },
    column_order=[
        "version",
        "family",
        "status",
        "value",
        "baseline",
        "vs_baseline",
        "production_value",
        "production",
        "failed_gates",
    ],
    column_config={
        "value": st.column_config.Column(frame["key_metric"].iloc[0], help="On its own holdout"),
        "baseline": st.column_config.Column("baseline", help="On the same holdout"),
        "vs_baseline": "vs baseline",
        "production_value": st.column_config.Column(
            "production", help="The production version's score on the same holdout (its gate)"
        ),
        "production": "gated against",
        "failed_gates": "failed gates",
    },
)
versions = list(shown["version"]) or list(frame["version"])
version = st.selectbox("Model version", versions, key="model_version")
m = lg.registry.model(version)
prod = lg.releases.alias("production")
km = m.key_metric
champ = champion_on_holdout(m)
st.caption(
    f"Every number below is {km} on {version}'s own holdout: the baseline and the production "
    "version were scored on the same rows by the gates when it was trained."
)
cols = st.columns(3)
cols[0].metric(f"{km} of {version}", f"{m.metrics.get(km, float('nan')):.3f}")
cols[1].metric("baseline on this holdout", f"{m.baseline_metrics.get(km, float('nan')):.3f}")
if champ is None:
    cols[2].metric("production on this holdout", "-", help="The baseline is not gated.")
elif champ.score is None:
    cols[2].metric(champ.label(), "none", help="The beats_champion gate's score")
    st.caption(
        f"No production score beside {version}: no version was in production when it was trained."
    )
else:
    cols[2].metric(champ.label(), champ.text(), help="The beats_champion gate's score")
if prod is not None and (champ is None or champ.version != prod.version):
    st.caption(
        f"Production is {prod.version} now; its score on {version}'s holdout was not measured"
        + (f" (the gate compared with {champ.version})." if champ and champ.version else ".")
    )
st.subheader("Gates")
if m.gate_results:
    gates = pd.DataFrame(m.gate_results)[["name", "passed", "detail"]]
    gates["passed"] = gates["passed"].map({True: "passed", False: "failed"})
    st.table(gates.set_index("name"))  # details wrap: read in full
else:
    st.write("The baseline is the reference: no gates.")
if m.slice_metrics:
    st.subheader(f"{km} by slice")
    st.bar_chart(pd.DataFrame({s: v[km] for s, v in m.slice_metrics.items()}, index=[km]).T)
study = study_of(m)  # tuned (training.search): the study, every trial, the one refitted
if study is not None:
    st.subheader("Hyperparameter search")
    st.caption(study.summary())
    table(study.trials, formats={"value": "{:.4g}"}, key="study_trials")
report = class_report(m)  # multiclass: where the classes are confused, and each class
if report is not None:
    st.subheader("Confusion matrix (holdout)")
    st.caption("Rows: the true class; columns: the class the model answered (counts).")
    st.dataframe(report.confusion, width="stretch", key="confusion")
    st.subheader("Per-class metrics (holdout)")
    table(
        report.per_class,
        formats={"precision": "{:.3f}", "recall": "{:.3f}", "f1": "{:.3f}"},
    )
shadow = lg.releases.alias(shadow_alias("production"))
evidence = shadow_evidence(lg, version)
st.subheader("Shadow comparison with production")
if shadow is not None and shadow.version == version:
    st.caption(
        f"{version} answers production traffic in the shadow (its answers are kept, never returned)."
    )
if evidence is None:
    st.write(
        "No shadow evidence for this version: attach it with "
        f"`renkei shadow {version} --alias production`, then score and monitor."
    )
else:
    c = evidence.comparison
    o = c.overall
    st.write(f"**{o.verdict}** · monitoring report {evidence.report_id}: {c.summary()}")
    sc = st.columns(3)
    sc[0].metric(f"{c.error}: challenger", "-" if o.challenger is None else f"{o.challenger:.3f}")
    sc[1].metric(
        f"{c.error}: production {c.champion}", "-" if o.champion is None else f"{o.champion:.3f}"
    )
    sc[2].metric(
        "guard rate: challenger vs production",
        f"{c.guard_rates.get('challenger', 0):.1%}",
        f"{c.guard_rates.get('challenger', 0) - c.guard_rates.get('champion', 0):+.1%}",
        delta_color="inverse",
    )
    st.dataframe(evidence.slices_frame(), hide_index=True, width="stretch", key="shadow_slices")
st.subheader("Review")
st.write(f"Trained by **{m.trained_by}** on {m.created_at:%Y-%m-%d %H:%M} · status **{m.status}**")
if m.status == "candidate":
    s = approval_status(lg, roles, version)
    st.write(
        f"Approvals: {', '.join(f'{r} ({a})' for r, a in s.approved.items()) or 'none'} · "
        f"missing: {', '.join(s.missing) or 'none'}"
    )
    signed = approval_signatures(lg, roles.identity, version)
    if signed:
        st.dataframe(pd.DataFrame(signed), hide_index=True, width="stretch", key="signatures")
    if user is None:
        st.info("Sign in to approve or reject.")
    else:
        who = member(user)  # a signed-in user's login mapped to the member (roles.yaml)
        mine = eligible_roles(roles, who)
        st.caption(
            f"You are {user}: {', '.join(roles.roles_of(who)) or 'no role'}. "
            f"Approving roles you hold: {', '.join(mine) or 'none'}."
        )
        with st.form("review"):
            comment = st.text_area("Comment (required)", key="review_comment")
            a, r = st.columns(2)
            approve = a.form_submit_button("Approve", type="primary")
            reject = r.form_submit_button("Reject")
        if approve or reject:
            try:
                sg = signer(user)
                decision = "approve" if approve else "reject"
                who = sg.identity.member
                with anchored_by(sg):  # anchored with the key that signed it
                    rec = review(lg, roles, version, who, comment, decision, signer=sg)
                    if evidence is not None:  # shown above: recorded as seen by this approver
                        record_seen(lg, who, rec, evidence)
                st.success(f"{sg.identity.label()} {rec.decision}d {rec.version} as {rec.role}.")
            except (ReleaseRefused, KeyError_) as e:
                st.error(str(e))
st.subheader("Production history")
hist = lg.releases.history("production")
if hist:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "when": h.at,
                    "action": h.action,
                    "from": h.previous_version or "none (first in production)",
                    "to": h.version,
                    "by": h.actor,
                    "why": h.reason,
                }
                for h in hist
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    if user and can_release(roles, member(user)) and st.button("Roll back production"):
        try:
            sg = signer(user)
            why = "rolled back from the app"
            keys = release_keys(roles.identity, cfg.storage.data_root)
            with anchored_by(sg):
                move = rollback(lg, roles, sg.identity.member, "production", why, sg, keys=keys)
            st.success(f"production is back on {move.version}")
        except (ReleaseRefused, KeyError_) as e:
            st.error(str(e))
else:
    st.write("Nothing has been promoted yet.")
