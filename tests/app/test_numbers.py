"""The numbers a page shows, read off the page and compared with the ledger (issue 31):
production's score beside a candidate is its gate's, on the candidate's holdout; benefit
comes only from versions that served production (the alias history); tables show words;
one colour per guard decision; Monitoring's time axes are dates."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project_set
from shared.ledger.tables import AliasMove
from shared.monitor.costs import DAYS_PER_MONTH, monthly_benefit
from shared.release.shadow import attach
from tests.app.test_apptest import open_page
from tests.builders import build
from tests.conftest import write_project

DECISIONS = ["model", "corrected", "fallback", "rejected"]
# model neutral blue; corrected and fallback amber shades (light, dark); rejected red
COLOURS = ["#0072B2", "#F2C14E", "#C77C02", "#B2182B"]


def _served(tmp: Path):
    """Run 1's candidate in production; run 2 gated against it on run 2's holdout, and
    attached as production's shadow when it passed (it never serves)."""
    t = build(tmp, f"sqlite:///{tmp / 'ledger.db'}", runs=2, release_first=True)
    t.first = t.candidates[0]
    [t.second] = [
        m
        for m in t.ledger.registry.models()
        if m.flow_run == "TrainFlow/t1" and m.family != "baseline"
    ]
    if t.second.status == "candidate":
        attach(
            t.ledger, t.roles, t.cfg, t.rules, t.second.version, "production", "sora", "try", "abc"
        )
    return t


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    """Read only by this module's tests."""
    return _served(tmp_path_factory.mktemp("served"))


def _gate(m, name: str) -> dict:
    return next(g for g in m.gate_results if g["name"] == name)


def _money(text: str, currency: str = "USD") -> float:
    assert re.fullmatch(rf"-?[\d,]+(\.\d+)? {currency}", text), text
    return float(text.removesuffix(f" {currency}").replace(",", ""))


def test_models_page_shows_the_gates_production_score_on_the_candidates_holdout(
    app_env, served
) -> None:
    t = served
    app_env(t.project_path)
    at = open_page("models")
    version = t.second.version
    at.selectbox(key="model_version").set_value(version).run()
    assert not at.exception
    gate = _gate(t.ledger.registry.model(version), "beats_champion")
    assert gate["reference_version"] == t.first
    km = t.cfg.training.key_metric
    shown = {m.label: m.value for m in at.metric}
    assert shown[f"production {t.first} on this holdout"] == f"{gate['reference_score']:.3f}"
    assert f"vs production {t.first} {gate['reference_score']:.4g}" in gate["detail"]
    # not production's score on its own, older holdout
    own = t.ledger.registry.model(t.first).metrics[km]
    assert gate["reference_score"] != own
    # the models table: the same number beside the same version
    frame = next(d.value for d in at.dataframe if "production_value" in d.value.columns)
    row = frame[frame["version"] == version].iloc[0]
    assert row["production"] == t.first
    assert row["production_value"] == f"{gate['reference_score']:.4g}"
    # the first model had nothing in production to compare with: said in words
    at.selectbox(key="model_version").set_value(t.first).run()
    shown = {m.label: m.value for m in at.metric}
    assert shown["production"] == "none"
    assert any("no version was in production when it was trained" in c.value for c in at.caption)
    assert frame[frame["version"] == t.first].iloc[0]["production"] == ("none in production then")


def test_production_history_shows_words_not_none(app_env, served) -> None:
    app_env(served.project_path)
    at = open_page("models")
    hist = next(d.value for d in at.dataframe if "from" in d.value.columns)
    assert list(hist["from"]) == ["none (first in production)"]
    assert list(hist["to"]) == [served.first]


def test_costs_page_counts_benefit_only_for_the_version_that_served(app_env, served) -> None:
    t = served
    app_env(t.project_path)
    at = open_page("costs")
    costs = yaml.safe_load((t.project_path.parent / "costs.yaml").read_text())
    per = next(d.value for d in at.dataframe if "production" in d.value.columns)
    rows = {r["version"]: r for r in per.to_dict("records")}
    first, second = t.ledger.registry.model(t.first), t.second
    assert set(rows) == {first.version, second.version}
    expected = (
        monthly_benefit(first, load_project_set(t.project_path).costs) * costs["months_per_model"]
    )
    assert _money(rows[first.version]["benefit"]) == pytest.approx(expected, abs=0.5)
    assert rows[first.version]["production"].startswith("served")
    # the second never served (a shadow at most): no benefit, however good it looks
    assert monthly_benefit(second, load_project_set(t.project_path).costs) != 0
    assert _money(rows[second.version]["benefit"]) == 0
    assert rows[second.version]["production"] in ("shadow only", "never served")
    tiles = {m.label: m.value for m in at.metric}
    assert _money(tiles["Benefit"]) == pytest.approx(expected, abs=0.5)
    fixed_month = sum(costs["fixed_monthly"].values())
    assert _money(tiles["Fixed"]) == fixed_month * costs["months_per_model"]  # one served
    assert tiles["Models that served"] == "1 of 2 built"


def test_renkei_costs_json_counts_no_benefit_for_a_version_that_never_served(served) -> None:
    t = served
    out = CliRunner().invoke(cli, ["--project", str(t.project_path), "costs", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    per = {m["version"]: m for m in data["per_model"]}
    assert per[t.second.version]["served"] is False and per[t.second.version]["benefit"] == 0
    assert per[t.first]["served"] is True and per[t.first]["benefit"] > 0
    assert data["benefit"] == per[t.first]["benefit"] and data["models_served"] == 1
    assert isinstance(data["fixed"], float | int)  # numbers stay numbers in JSON
    text = CliRunner().invoke(cli, ["--project", str(t.project_path), "costs"]).output
    assert re.search(r"benefit [\d,]+ USD from 1 model\(s\) that served", text), text


def test_renkei_models_and_lineage_show_productions_score_on_the_same_holdout(served) -> None:
    t = served
    gate = _gate(t.ledger.registry.model(t.second.version), "beats_champion")

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
        assert out.exit_code == 0, out.output
        return out.output

    score = f"{gate['reference_score']:.4f}"
    assert f"{t.first} {score}" in renkei("models")
    assert f"production on the same holdout: {t.first} " in renkei("lineage", t.second.version)
    models = {m["version"]: m for m in json.loads(renkei("models", "--json"))}
    champ = models[t.second.version]["production_on_holdout"]
    assert champ == {"version": t.first, "score": gate["reference_score"], "note": ""}
    lin = json.loads(renkei("lineage", t.second.version, "--json"))
    assert lin["production_on_holdout"]["score"] == gate["reference_score"]


def test_benefit_for_the_actual_time_in_production_from_the_alias_history(
    app_env, tmp_path: Path
) -> None:
    """benefit_period: time_in_production: benefit = months in production (alias history)
    x the model's monthly benefit; here the first version was promoted 15 days ago."""
    from sqlalchemy import update

    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, release_first=True)
    path = t.project_path.parent / "costs.yaml"
    costs = yaml.safe_load(path.read_text())
    path.write_text(yaml.safe_dump({**costs, "benefit_period": "time_in_production"}))
    promoted = datetime.now(UTC) - timedelta(days=15)
    with t.ledger.engine.begin() as c:
        c.execute(update(AliasMove).values(at=promoted))
    [move] = t.ledger.releases.history("production")
    app_env(t.project_path)
    at = open_page("costs")
    per = next(d.value for d in at.dataframe if "production" in d.value.columns)
    [row] = per.to_dict("records")
    m = t.ledger.registry.model(move.version)
    at_ = move.at if move.at.tzinfo else move.at.replace(tzinfo=UTC)
    months = (datetime.now(UTC) - at_).total_seconds() / 86400 / DAYS_PER_MONTH
    expected = monthly_benefit(m, load_project_set(t.project_path).costs) * months
    assert _money(row["benefit"]) == pytest.approx(expected, rel=1e-4, abs=1)
    assert row["production"] == "served 15.0 days"


def _specs(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("vega_lite_chart")]


def _decision_scales(spec: dict) -> list[dict]:
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("field") == "decision" and "scale" in node:
                found.append(node["scale"])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return found


def test_guard_decisions_have_one_colour_meaning_on_every_page(app_env, populated_to_read) -> None:
    app_env(populated_to_read.project_path)
    scales = []
    for page in ("overview", "guard"):
        at = open_page(page)
        scales += [s for spec in _specs(at) for s in _decision_scales(spec)]
    assert len(scales) >= 3  # overview's last batch, guard's batches and online traffic
    for s in scales:
        assert s["domain"] == DECISIONS and s["range"] == COLOURS
    at = open_page("guard")
    reasons = next(s for s in _specs(at) if "reason" in json.dumps(s))
    assert "labelLimit" in json.dumps(reasons)  # reason labels never cut


def test_monitoring_time_axes_are_dates(app_env, populated_to_read) -> None:
    app_env(populated_to_read.project_path)
    at = open_page("monitoring")
    specs = _specs(at)
    assert specs
    for spec in specs:  # drift, interval coverage, guard rate: each over the reports' dates
        xs = [layer["encoding"]["x"] for layer in spec.get("layer", [spec])]
        assert xs and all(x["type"] == "temporal" for x in xs), xs
    perf = next(d.value for d in at.dataframe if "label coverage" in d.value.columns)
    assert "at" in perf.columns


def test_a_project_without_costs_says_none_are_configured(app_env, tmp_path: Path) -> None:
    (tmp_path / "costs.yaml").write_text("currency: EUR\n")  # no fixed costs, no benefit
    project = write_project(tmp_path)
    app_env(project)
    at = open_page("costs")
    assert "No costs are configured for this project" in at.info[0].value
    assert not at.metric
    out = CliRunner().invoke(cli, ["--project", str(project), "costs"])
    assert out.exit_code == 0 and "No costs are configured for this project" in out.output
    out = CliRunner().invoke(cli, ["--project", str(project), "costs", "--json"])
    assert json.loads(out.output) == {"configured": False, "currency": "EUR"}
