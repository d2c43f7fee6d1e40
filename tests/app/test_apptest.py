"""Every page in Streamlit's AppTest, on an empty and a populated ledger; approvals via the page."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from shared.release import approval_status
from tests.app.conftest import APP, PAGES


def open_page(page: str, user: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py")
        at.run()
    if user is not None:
        at.sidebar.selectbox(key="acting_as").set_value(user).run()
        assert at.session_state["acting_as"] == user
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_an_empty_ledger_shows_a_helpful_state(page, app_env, empty_project) -> None:
    app_env(empty_project)
    at = open_page(page)
    text = " ".join(str(x.value) for x in [*at.info, *at.markdown, *at.success, *at.caption])
    expected = {
        "overview": "Nothing is in production yet",
        "lineage": "No lineage yet",
        "models": "No model versions yet",
        "roles": "Nothing recorded yet",
        "guard": "No scoring batches yet",
        "audit": "The audit chain is empty",
        "operator": "No scored rows yet",
        "monitoring": "No monitoring runs yet",
        "costs": "No model has been built yet",
    }[page]
    assert expected in text


@pytest.mark.parametrize("page", PAGES)
def test_every_page_on_a_populated_ledger(page, app_env, populated_to_read) -> None:
    populated = populated_to_read
    app_env(populated.project_path)
    at = open_page(page)
    v1, v2 = populated.candidates
    if page == "overview":
        assert [m.value for m in at.metric][:2] == [
            v1,
            populated.ledger.releases.alias("production").rules_version,
        ]
        assert any("Batch 1: 600 rows" in m.value for m in at.markdown)
    elif page == "lineage":
        # select the production model: its details and its neighbours (run, deployment)
        at.selectbox(key="lineage_node").set_value(f"model:{v1}").run()
        import json

        details = json.loads(at.json[0].value)
        assert details["family"] == "xgboost" and details["status"] == "candidate"
        text = " ".join(m.value for m in at.markdown)
        assert "train run" in text and "deployment 1 · production: " + v1 in text
    elif page == "models":
        assert len(at.dataframe) >= 1
        assert at.selectbox(key="model_version").value == v2  # newest first
    elif page == "roles":
        at.button[0].click().run()
        assert any("Message to the product manager" in s.value for s in at.subheader)
        assert any("# From the ML team" in m.value for m in at.markdown)
    elif page == "guard":
        assert any("Decisions per scoring batch" in s.value for s in at.subheader)
        at.button[0].click().run()  # the what-if form
        assert any("Decision:" in m.value for m in at.markdown)
    elif page == "audit":
        assert "Audit chain verified" in at.success[0].value
        audit = at.dataframe[0].value
        assert {"signature", "anchor"} <= set(audit.columns)
    elif page == "monitoring":
        assert any("Data drift per feature" in s.value for s in at.subheader)
        assert len(at.dataframe) >= 1
    elif page == "costs":
        assert [m.label for m in at.metric][-1] == "Break-even"
    elif page == "operator":
        assert len(at.dataframe) == 1


def test_operator_flags_a_prediction_with_the_true_value(app_env, populated) -> None:
    app_env(populated.project_path)
    at = open_page("operator", user="ren")  # ML Operator
    already = set(populated.ledger.operations.labelled_rows()["row_id"])
    pick = next(
        o for o in at.selectbox(key="fb_row").options if o.split(" (batch")[0] not in already
    )
    rid = pick.split(" (batch")[0]
    at.selectbox(key="fb_row").set_value(pick)
    at.number_input(key="fb_value").set_value(42.5)
    at.text_input(key="fb_note").input("courier got lost")
    at.button[0].click().run()
    assert not at.exception
    assert at.success[0].value == f"Recorded for {rid}: accepted"
    labelled = populated.ledger.operations.labelled_rows()
    flagged = labelled[labelled["flagged"]]
    assert list(flagged["row_id"]) == [rid] and list(flagged["value"]) == [42.5]
    assert list(flagged["actor"]) == ["ren"]
    at = open_page("operator", user="emi")  # Product Manager: not an operator
    assert "not an ML Operator" in at.warning[0].value


def _approve_on_page(app_env, populated, user: str, version: str) -> AppTest:
    app_env(populated.project_path)
    at = open_page("models", user=user)
    at.multiselect(key="status_filter").set_value(["candidate", "passed", "rejected"]).run()
    at.selectbox(key="model_version").set_value(version).run()
    at.text_area(key="review_comment").input("checked on the page")
    at.button[0].click().run()  # Approve
    assert not at.exception
    return at


def test_approval_on_the_page_refused_without_role_and_for_the_trainer(app_env, populated) -> None:
    _, v2 = populated.candidates
    at = _approve_on_page(app_env, populated, "emi", v2)  # Product Manager: no approving role
    assert "missing_role" in at.error[0].value
    at = _approve_on_page(app_env, populated, "mina", v2)  # trained it
    assert at.error
    assert approval_status(populated.ledger, populated.roles, v2).approved == {}


def test_approval_on_the_page_accepted_for_an_eligible_user(app_env, populated) -> None:
    _, v2 = populated.candidates
    at = _approve_on_page(app_env, populated, "kenji", v2)
    assert "kenji (unverified) approved" in at.success[0].value  # dev mode: a sidebar choice
    assert approval_status(populated.ledger, populated.roles, v2).approved == {
        "Domain Expert": "kenji"
    }
    # the Models page shows who signed the approval and whether it verifies
    at = _approve_on_page(app_env, populated, "kenji", v2)  # again: refused, page re-read
    [signed] = [d.value for d in at.dataframe if "signature" in d.value.columns]
    assert signed.to_dict("records")[0]["signed by"] == "kenji"
    assert signed.to_dict("records")[0]["signature"] == "unverified (dev mode)"


def test_the_app_reads_the_costs_of_its_project_folder(app_env, populated) -> None:
    """Issue 10, problem 6: the app read config/costs.yaml whatever the project."""
    import yaml

    path = populated.project_path.parent / "costs.yaml"
    costs = yaml.safe_load(path.read_text())
    costs["fixed_monthly"] = {"team": 7.0}
    path.write_text(yaml.safe_dump(costs))
    app_env(populated.project_path.parent)  # the folder, as `renkei --project DIR app` passes it
    at = open_page("costs")
    served = len(populated.ledger.releases.history("production"))  # one promotion
    assert at.metric[0].label.startswith("Fixed") and at.metric[0].value == f"{7 * served:,} USD"


def test_pages_show_online_traffic_the_shadow_comparison_and_an_online_answers_lineage(
    app_env, populated_to_read
) -> None:
    populated = populated_to_read
    app_env(populated.project_path)
    v1, v2 = populated.candidates
    at = open_page("guard")
    assert any("Online traffic" in s.value for s in at.subheader)
    recent = next(d.value for d in at.dataframe if "request_id" in d.value.columns)
    assert len(recent) == 20 and set(recent["shadow_version"]) == {v2}
    at = open_page("models")
    assert at.selectbox(key="model_version").value == v2
    shown = " ".join(m.value for m in at.markdown)
    assert f"{v2} vs {v1}" in shown and "monitoring report" in shown
    slices = next(d.value for d in at.dataframe if "slice" in d.value.columns)
    assert {"zone=north", "rain=True"} <= set(slices["slice"])
    at = open_page("monitoring")
    assert any("Shadow challenger vs production" in s.value for s in at.subheader)
    at = open_page("lineage")
    rid = populated.request_ids[0]
    at.text_input(key="request_id").input(rid).run()
    assert not at.exception
    text = " ".join(m.value for m in at.markdown)
    assert f"Request **{rid}** was answered by deployment **1** (production)" in text
    assert f"model **{v1}**" in text and "raw `" in text


def test_an_approval_shows_the_shadow_evidence_and_records_that_it_was_seen(
    app_env, populated
) -> None:
    _, v2 = populated.candidates
    at = _approve_on_page(app_env, populated, "kenji", v2)
    assert "kenji (unverified) approved" in at.success[0].value
    [seen] = [
        e for e in populated.ledger.audit.entries() if e.action == "model.shadow_evidence_seen"
    ]
    assert seen.actor == "kenji" and seen.subject == v2
    report = populated.ledger.monitoring.reports()[-1].id
    assert json.loads(seen.details)["monitoring_report"] == report
