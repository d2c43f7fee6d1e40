"""The invariants every feature must keep, checked on one whole lifecycle (conftest.live):
each its own test, its message naming what broke."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st  # before any Runner: Metaflow's vendored typing_extensions breaks it
import yaml
from streamlit.testing.v1 import AppTest

from shared.config import load_project_set
from shared.data import storage
from shared.guard.bundle_sign import public_pem
from shared.operate.captured import read_capture
from shared.release import load_alias
from shared.trust.release_key import release_keys
from tests.app.conftest import APP, PAGES
from tests.lifecycle.conftest import GAP_FEATURE, SEARCH_SAMPLE_ROWS, Lived

pytestmark = pytest.mark.slow

MODEL_SIGNING = str(Path(sys.executable).with_name("model_signing"))  # the package's CLI


def test_the_lifecycle_went_through_every_stage(lived: Lived) -> None:
    lg = lived.ledger
    moves = [(m.action, m.alias, m.version) for m in lg.releases.history()]
    first, new = lived.first, lived.retrained
    assert moves == [
        ("promote", "production", first),
        ("shadow", "production-shadow", new),
        ("detach", "production-shadow", new),
        ("promote", "production", new),
        ("rollback", "production", first),
    ], f"alias history is not the lifecycle's: {moves}"
    assert lg.releases.alias("production").version == first, "the rollback did not take"
    assert lg.releases.alias("production-shadow") is None, "the shadow is still attached"
    # the retraining trained through the parts (training.memory: external), the first in memory
    held = {v: lg.registry.model(v).resources.get("data", {}).get("memory") for v in (first, new)}
    assert held == {first: None, new: "external"}, f"not trained as configured: {held}"
    # both trainings searched, each study in the lineage; the retraining's trials tried a
    # seeded sample of its parts and its chosen settings were refitted on every part
    studies = {v: lg.registry.model(v).resources.get("search") for v in (first, new)}
    for v in (first, new):
        assert studies[v] and studies[v]["n_trials"] == 2, f"{v}: no study: {studies[v]}"
        said = lived.renkei("lineage", v).stdout
        assert f"study {studies[v]['study']}" in said, f"{v}: lineage names no study: {said}"
    assert "sample" not in studies[first], f"the in-memory search sampled: {studies[first]}"
    sample = studies[new].get("sample") or {}
    assert sample.get("max_rows") == SEARCH_SAMPLE_ROWS and sample.get("seed") is not None, (
        f"the retraining's study records no seeded sample: {studies[new]}"
    )
    tried, held = sample["rows"]["train"], sample["of"]["train"]
    assert 0 < tried <= SEARCH_SAMPLE_ROWS < held, f"trials on {tried} of {held} train rows"
    reports = lg.monitoring.reports()
    assert len(reports) == 2 and reports[0].retrain, "the drifted batch asked for no retrain"
    assert reports[0].retrain_run, "the monitor did not record the retraining run it started"
    assert reports[1].retrain_run is None, "--retrain none started a retraining run"
    kinds = {c["kind"] for r in reports for c in r.checks}
    assert {"data_drift", "intervals", "shadow"} <= kinds, f"monitoring checks missing: {kinds}"
    names = {c["name"] for r in reports for c in r.checks}
    assert f"missing:{GAP_FEATURE}" in names, f"the nullable feature's gaps unwatched: {names}"
    fb = lg.operations.feedback_batches()
    assert len(fb) == 4 and all(b.accepted > 0 for b in fb), f"feedback not joined: {fb}"
    actions = [e.action for e in lg.audit.entries()]
    assert actions.count("key.rotate") == 1, "the ledger key's rotation is not in the chain"
    assert actions.index("key.rotate") < max(
        i for i, a in enumerate(actions) if a.startswith("alias.")
    ), "no decision was recorded after the rotation"
    assert actions.count("release_key.rotate") == 1, (
        "the release key's rotation is not in the chain"
    )
    promotions = [i for i, a in enumerate(actions) if a == "alias.promote"]
    assert promotions[0] < actions.index("release_key.rotate") < promotions[-1], (
        "the release key did not rotate between the first and the retrained promotion"
    )


def test_audit_verify_says_the_state_tables_agree_with_the_chain(lived: Lived) -> None:
    p = lived.renkei("audit", "verify", ok=False)
    assert p.returncode == 0, f"`renkei audit verify` fails on the lifecycle's ledger:\n{p.stderr}"
    assert "state tables agree with the chain" in p.stdout, p.stdout
    p = lived.renkei("audit", "anchor", ok=False)
    assert p.returncode == 0 and "nothing to anchor" in p.stdout, p.stdout + p.stderr


def test_rows_in_are_valid_plus_quarantined_for_every_dataset_version(lived: Lived) -> None:
    datasets = lived.ledger.datasets.all()
    assert len(datasets) == 2, "both ingests recorded a dataset version"
    assert any(d.rows_quarantined > 0 for d in datasets), "the bad rows were not quarantined"
    for d in datasets:
        assert d.rows_in == d.rows_valid + d.rows_quarantined, (
            f"dataset {d.version}: {d.rows_in} in != {d.rows_valid} valid + "
            f"{d.rows_quarantined} quarantined"
        )
        for r in lived.ledger.datasets.reports(d.version):
            assert r.rows_in == r.rows_valid + r.rows_quarantined, f"report {r.id} of {d.version}"
    listed = json.loads(lived.renkei("datasets", "--json").stdout)
    assert {x["version"] for x in listed} == {d.version for d in datasets}


def _raw_row(uri: str, row: int) -> pd.Series:
    data = storage.read_bytes(uri)
    frame = (
        pd.read_parquet(io.BytesIO(data))
        if uri.endswith(".parquet")
        else pd.read_csv(io.BytesIO(data), dtype=str)
    )
    return frame.iloc[row]


def test_every_batch_scored_row_leads_back_to_raw_row_model_rules_and_deployment(
    lived: Lived,
) -> None:
    lg = lived.ledger
    batches = lg.operations.scoring_batches()
    assert len(batches) == 2
    for b in batches:
        dep = lg.releases.deployment(b.deployment_id)
        ids = []
        for row in (0, b.rows // 2, b.rows - 1):
            out = lived.renkei("lineage", "--batch", str(b.id), "--row", str(row), "--json")
            got = json.loads(out.stdout)
            what = f"scoring batch {b.id} row {row}"
            assert got["input_row"] == row and got["batch"] == b.id, what
            ids.append(got["row_id"])
            raw = _raw_row(got["raw_file"], got["raw_file_row"])
            assert str(raw["order_id"]) == got["row_id"] or (
                pd.isna(raw["order_id"]) and got["row_id"] in ("", "nan", "None")
            ), f"{what}: raw row {got['raw_file_row']} of {got['raw_file']} is another order"
            assert got["deployment"]["id"] == b.deployment_id, f"{what}: deployment"
            assert got["deployment"]["rules_version"] == dep.rules_version, f"{what}: rules"
            assert got["version"] == dep.version == b.version, f"{what}: model"
            assert got["datasets"], f"{what}: the model's training data"
            for d in got["datasets"]:
                assert storage.exists(d["raw_uri"]), f"{what}: training raw file {d['raw_uri']}"
        rid = next(i for i in ids if i not in ("", "nan", "None"))
        by_id = lived.renkei("lineage", "--batch", str(b.id), "--row-id", rid, "--json")
        assert json.loads(by_id.stdout)["row_id"] == rid, f"batch {b.id}: lineage by row id"


def test_every_captured_online_answer_leads_back_to_deployment_model_rules_and_data(
    lived: Lived,
) -> None:
    lg = lived.ledger
    captured = read_capture(str(lived.data_root))
    assert set(lived.request_ids) <= set(captured["request_id"]), "answers were not captured"
    shadowed = captured[captured["shadow_version"].notna()]
    assert set(shadowed["shadow_version"]) == {lived.retrained}, "the shadow answered online"
    for rid in lived.request_ids[:: max(1, len(lived.request_ids) // 6)]:
        got = json.loads(lived.renkei("lineage", rid, "--json").stdout)
        row = captured[captured["request_id"] == rid].iloc[0]
        dep = lg.releases.deployment(int(row["deployment_id"]))
        assert got["request_id"] == rid
        assert got["deployment"]["id"] == dep.id, f"request {rid}: deployment"
        assert got["deployment"]["rules_version"] == dep.rules_version == row["rules_version"]
        assert got["version"] == dep.version == row["model_version"], f"request {rid}: model"
        assert got["datasets"] and all(storage.exists(d["raw_uri"]) for d in got["datasets"]), (
            f"request {rid}: the model's training data"
        )


def test_every_decision_carries_a_signature_that_verifies(lived: Lived) -> None:
    log = json.loads(lived.renkei("audit", "log", "--json", "--limit", "100000").stdout)
    decisions = [e for e in log if e["action"].startswith(("model.approve", "model.reject"))]
    decisions += [e for e in log if e["action"].startswith("alias.")]
    assert {e["action"] for e in decisions} == {
        "model.approve",
        "alias.promote",
        "alias.shadow",
        "alias.detach",
        "alias.rollback",
    }
    for e in decisions:
        assert e["signature"] in ("verified", "unverified (dev mode)"), (
            f"audit entry {e['id']} ({e['action']} {e['subject']} by {e['actor']}): "
            f"signature {e['signature']!r}"
        )


def test_every_deployed_bundle_is_openssf_signed_and_model_signing_verifies_it(
    lived: Lived, tmp_path: Path
) -> None:
    """Each deployment's bundle verifies with the release key current when it was signed:
    the retrained promotion's with the key after the rotation, the others' with the key
    rotated out (which the project still trusts); the rollback's bundle still loads."""
    cfg = load_project_set(lived.project_path)
    keys = release_keys(cfg.roles.identity, str(lived.data_root))
    assert len(keys.public) == 2, f"the rotated-out release key is not trusted: {keys}"
    pems = []
    for i, text in enumerate(keys.public):  # the current key first
        pems.append(tmp_path / f"release-{i}.pub")
        pems[-1].write_bytes(public_pem(text))
    current = lived.renkei("keys", "show", "--release", "--pem").stdout
    assert pems[0].read_text().strip() == current.strip(), "keys show --release is not current"
    deployments = lived.ledger.releases.deployments()
    assert {d.alias for d in deployments} == {"production", "production-shadow"}
    signed_by = {}
    for d in deployments:
        signed_by[d.id] = [
            i
            for i, pem in enumerate(pems)
            if subprocess.run(
                [MODEL_SIGNING, "verify", "key", d.bundle_uri, "--signature", f"{d.bundle_uri}.sig"]
                + ["--public_key", str(pem)],
                capture_output=True,
                timeout=300,
            ).returncode
            == 0
        ]
    last = max(deployments, key=lambda d: d.id)
    expected = {d.id: [0] if d.id == last.id else [1] for d in deployments}
    assert signed_by == expected, (
        f"`model_signing verify` per deployment (0: the current release key, 1: the one "
        f"rotated out): {signed_by}, expected {expected}"
    )
    found = load_alias(lived.ledger, keys=keys)  # the rollback: an old key's bundle
    assert found is not None and found[0].version == lived.first, "production is not the first"
    assert found[1].model_version == lived.first


@pytest.mark.parametrize("page", PAGES)
def test_every_app_page_renders_on_the_lifecycles_ledger(
    page: str, lived: Lived, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENKEI_PROJECT", str(lived.project_path))
    monkeypatch.setenv("RENKEI_LEDGER_URL", "")
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page != "overview":
        at.switch_page(f"views/{page}.py")
        at.run()
    assert not at.exception, f"page {page}: {[e.value for e in at.exception]}"


def test_lineage_of_a_scored_row_that_is_not_there_says_so_in_one_line(lived: Lived) -> None:
    b = lived.ledger.operations.scoring_batches()[0]
    for args, says in [
        (["--batch", str(b.id), "--row", str(b.rows)], f"input row {b.rows} is not in this batch"),
        (["--batch", "999", "--row", "0"], "no scoring batch 999"),
        (["--batch", str(b.id), "--row-id", "nobody"], "has no answer for row id 'nobody'"),
    ]:
        p = lived.renkei("lineage", *args, ok=False)
        err = p.stderr.strip()
        assert p.returncode == 1 and err.startswith("Error: ") and "\n" not in err, err
        assert says in err, err


def test_costs_count_benefit_only_for_versions_that_served(lived: Lived) -> None:
    """`renkei costs --json` after the whole lifecycle: a version counts benefit exactly when
    the production alias history shows it serving; the project's benefit is their sum."""
    served = {
        m.version for m in lived.ledger.releases.history("production") if m.action != "detach"
    }
    costs = json.loads(lived.renkei("costs", "--json").stdout)
    assert costs["configured"], f"the lifecycle's project has costs: {costs}"
    per = {m["version"]: m for m in costs["per_model"]}
    assert served <= set(per), f"a version that served is missing from costs: {served - set(per)}"
    for version, m in per.items():
        assert m["served"] == (version in served), f"{version}: served flag {m} vs {served}"
        if version not in served:
            assert m["benefit"] == 0, f"{version} never served but counts benefit: {m}"
        else:
            assert m["benefit"] > 0, f"{version} served but counts no benefit: {m}"
    total = sum(m["benefit"] for m in per.values())
    assert costs["models_served"] == len(served), f"models served: {costs} vs {served}"
    assert abs(costs["benefit"] - total) < 1e-6, f"project benefit {costs['benefit']} != {total}"


def test_answers_are_explained_over_http_and_for_scored_batches(lived: Lived) -> None:
    """Issue 28: /predict?explain=true and `renkei scores --explain`: each answer's
    contributions (one per feature) add up to the answering model's raw answer."""
    from shared.model.explain import XGB_TOLERANCE

    def adds_up(e: dict) -> bool:
        total = e["bias"] + sum(e["contributions"].values())
        return abs(total - e["raw"]) <= XGB_TOLERANCE * max(1.0, abs(e["raw"]))

    features = set(yaml.safe_load(lived.project_path.read_text())["features"])
    answers = lived.explained["predictions"]
    assert [a["decision"] for a in answers][:2] == ["model", "fallback"]
    for a in answers:
        e = a["explanation"]
        assert set(e["contributions"]) == features and adds_up(e), a
        assert e["explained_by"] == ("baseline" if a["decision"] == "fallback" else "xgboost")
        if a["decision"] != "corrected":
            assert abs(e["raw"] - a["prediction"]) <= 0.05 + 1e-9, a
    # the gap (nullable courier_load): XGBoost's missing branch, still a contribution
    assert "courier_load" in answers[0]["explanation"]["contributions"]
    first = lived.ledger.operations.scoring_batches()[0]
    shown = json.loads(
        lived.renkei(
            "scores", "--batch", str(first.id), "--explain", "--rows", "50", "--json"
        ).stdout
    )
    assert len(shown) == 50 and {r["decision"] for r in shown} <= {"model", "corrected", "fallback"}
    for r in shown:
        e = r["explanation"]
        assert adds_up(e), r
        assert e["explained_by"] == ("baseline" if r["decision"] == "fallback" else "xgboost")
        if r["decision"] == "model":  # the very answer of that raw row
            assert abs(e["raw"] - r["prediction"]) <= 0.05 + 1e-9, r


def test_feedback_moved_the_interval_quantile_and_the_service_answered_with_it(
    lived: Lived,
) -> None:
    """Adaptive intervals: the batch labels moved production's quantile (recorded with its
    audit entry: `renkei audit verify` above replays it), and the service's next answer
    carried the new quantile."""
    ups = lived.ledger.intervals.updates("production")
    first = next(u for u in ups if u.id == lived.interval_update)
    assert first.labels > 0 and first.old_factor == 1.0 and first.new_factor != 1.0
    assert first.new_quantile == pytest.approx(first.old_quantile * first.new_factor)
    assert lived.served_factor == first.new_factor
    before, after = lived.widths
    assert after / before == pytest.approx(first.new_factor, rel=1e-6)
    entries = [e for e in lived.ledger.audit.entries() if e.action == "intervals.adapt"]
    assert len(entries) == len(ups) >= 2  # batch labels, then the online answers' labels
