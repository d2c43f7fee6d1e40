"""The Guard page explains an answer (issue 28 item 2): a scored answer of the newest batch
picked by its row id shows the guard's decision and reasons beside the contributions of the
model that gave it; the what-if's answer is explained too."""

from __future__ import annotations

from shared.reports.explained import explained_scores
from tests.app.test_apptest import open_page


def _text(at) -> str:
    return " ".join(str(m.value) for m in at.markdown)


def test_guard_page_shows_what_drove_an_answer_beside_the_reasons(
    app_env, populated_to_read
) -> None:
    p = populated_to_read
    app_env(p.project_path)
    found = explained_scores(p.ledger, p.keys, rows=200)
    answers = found.answers
    at = open_page("guard")
    assert any("Why this answer? (newest batch)" in s.value for s in at.subheader)
    box = at.selectbox(key="explain_row")
    assert box.options == answers["row_id"].tolist()
    for decision, family in (("model", "xgboost"), ("fallback", "baseline")):
        i = answers.index[answers["decision"] == decision][0]
        row_id = answers["row_id"][i]
        at.selectbox(key="explain_row").set_value(row_id).run()
        assert not at.exception, [e.value for e in at.exception]
        text = _text(at)
        assert f"Decision: **{decision}**" in text
        reasons = str(answers["reasons"][i] or "") or "none"
        assert f"Rules that fired: {reasons}" in text
        why = found.explanations[i]
        assert f"Explained by **{family}**" in text and f"{why['raw']:.4g}" in text
        shown = [d.value for d in at.dataframe if "contribution" in d.value.columns][-1]
        features = shown["feature"].tolist()
        assert features[:-2] == list(why["contributions"])  # every feature, largest first
        assert features[-2:] == ["(bias)", "= raw answer"]
        assert abs(shown["contribution"].iloc[-1] - why["raw"]) < 1e-9
    at.button[0].click().run()  # the what-if form: its answer explained as well
    assert not at.exception, [e.value for e in at.exception]
    assert any("Why this answer?" == s.value for s in at.subheader)
    assert "Explained by **" in _text(at)
