"""The train flow through Metaflow's Runner: registration, lineage, gates, resume, binary."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from shared.config import load_project, load_roles, load_rules
from shared.data.generator import generate_orders
from shared.ledger import Ledger
from shared.release import load_alias
from shared.trust.release_key import release_keys
from tests.builders import build, release
from tests.conftest import FAST_TRAINING, REPO, write_project
from tests.flows.helpers import INGEST, TRAIN, cli_run, run_flow

pytestmark = pytest.mark.slow


def ledger_of(project: Path) -> Ledger:
    return Ledger.open(load_project(project).storage.ledger_url)


def test_ingest_then_train_registers_a_candidate_with_lineage(tmp_path: Path) -> None:
    project = write_project(tmp_path, **FAST_TRAINING)
    _, status, _, _ = run_flow(INGEST, project, rows=5000)
    assert status == "successful"
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    ledger = ledger_of(project)
    versions = ledger.registry.models()
    assert {m.family for m in versions} == {"baseline", "xgboost", "torch_mlp"}
    [cand] = [m for m in versions if m.status == "candidate"]
    assert cand.metrics["mae"] <= 0.95 * cand.baseline_metrics["mae"]
    for family in ("baseline", "xgboost", "torch_mlp"):
        assert family in stdout
    assert f"registered {cand.version}" in stdout
    # lineage: model -> run, code, config -> dataset -> raw source as it came
    lin = ledger.registry.lineage(cand.version)
    [ds] = ledger.datasets.all()
    assert [d.version for d in lin.datasets] == [ds.version] == cand.datasets
    assert lin.datasets[0].raw_source == ds.source
    assert Path(lin.datasets[0].raw_uri).read_bytes() == Path(ds.source).read_bytes()
    assert cand.flow_run == run.pathspec and lin.flow_run.status == "succeeded"
    assert cand.git_commit and len(cand.git_commit) == 40 and cand.git_dirty is not None
    assert cand.config_hash == load_project(project).config_hash()
    assert cand.task_pathspec.startswith(run.pathspec + "/train/")
    # the baseline rule needs no GPU: fitted in the start step, not in the (GPU) foreach
    [base] = [m for m in versions if m.family == "baseline"]
    assert base.task_pathspec.startswith(run.pathspec + "/start/")
    assert cand.resources["device"] == "cpu" and cand.resources["fit_seconds"] > 0
    artifact = Path(cand.artifact_uri)
    assert (artifact / "model.json").exists() and (artifact / "meta.json").exists()
    assert ledger.audit.verify().ok
    # the CLI shows the same
    from click.testing import CliRunner

    from shared.cli import cli

    out = CliRunner().invoke(cli, ["--config", str(project), "lineage", cand.version])
    assert out.exit_code == 0 and ds.version in out.output and ds.source in out.output
    out = CliRunner().invoke(cli, ["--config", str(project), "models", "--json"])
    assert out.exit_code == 0 and '"status": "candidate"' in out.output


def test_failing_gates_register_no_candidate(tmp_path: Path) -> None:
    project = write_project(tmp_path, gates__min_improvement=0.95, **FAST_TRAINING)
    run_flow(INGEST, project, rows=3000)
    _, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful"
    assert "nothing registered as candidate" in stdout
    versions = ledger_of(project).registry.models()
    assert not [m for m in versions if m.status == "candidate"]
    for m in versions:
        if m.family != "baseline":
            assert m.status == "rejected" and "beats_baseline" in m.failing_gates


def test_resume_after_a_failed_step_registers_exactly_once(tmp_path: Path) -> None:
    project = write_project(tmp_path, **FAST_TRAINING)
    run_flow(INGEST, project, rows=3000)
    first, status, _, _ = run_flow(TRAIN, project, env={"RENKEI_INJECT_FAULT": "compare"})
    assert status == "failed"
    assert len(ledger_of(project).registry.models()) == 3  # registered, then the step failed
    # resume reuses the frozen config of the original run
    p = cli_run(TRAIN, "resume", "--origin-run-id", first.id)
    assert p.returncode == 0, p.stdout + p.stderr
    versions = ledger_of(project).registry.models()
    assert len(versions) == 3
    assert [m.status for m in versions].count("candidate") == 1


def test_train_without_data_is_a_clear_error(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    p = cli_run(TRAIN, "--config", "project", str(project), "run")
    assert p.returncode != 0
    assert "the ledger has no datasets" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr


BINARY_RULES = {
    "input": [
        {
            "name": "in_area",
            "kind": "range",
            "column": "distance_km",
            "max": 40,
            "action": "reject",
        },
        {"name": "within_training_envelope", "kind": "envelope", "margin": 0.5},
    ],
    "output": [
        {"name": "never_certain", "kind": "cap", "value": 0.999},
        {"name": "never_impossible", "kind": "floor", "expr": "0.001"},
        {"name": "three_decimals", "kind": "round", "decimals": 3},
    ],
}


def test_binary_project_end_to_end(tmp_path: Path) -> None:
    base = yaml.safe_load(Path("config/project.yaml").read_text())
    base.update(task="binary", target="late", target_range={})
    base.pop("baseline")  # the default for binary tasks: a stump learned from the data
    base["training"].update(key_metric="roc_auc", slices=["rain", "zone"], threshold=0.4)
    benefit = {  # a binary project's costs, in its own terms
        "predictions_per_month": 100000,
        "value_per_true_positive": 5.0,
        "cost_per_false_positive": 1.0,
        "prevalence": 0.3,
    }
    (tmp_path / "costs.yaml").write_text(yaml.safe_dump({"benefit": benefit}))
    project = write_project(tmp_path, base=base, **FAST_TRAINING)
    rules = tmp_path / "rules.yaml"  # the project folder's rules file
    rules.write_text(yaml.safe_dump(BINARY_RULES))
    g = generate_orders(4000, seed=5, bad_fraction=0.01)
    src = tmp_path / "late.csv"
    g.orders.assign(late=(g.labels["delivery_minutes"] > 30)).to_csv(src, index=False)
    _, status, _, _ = run_flow(INGEST, project, source=str(src))
    assert status == "successful"
    _, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    ledger = ledger_of(project)
    versions = ledger.registry.models()
    [cand] = [m for m in versions if m.status == "candidate"]
    assert cand.key_metric == "roc_auc" and cand.metrics["roc_auc"] > 0.8
    assert set(cand.metrics) == {"roc_auc", "log_loss", "precision", "recall"}
    assert pd.read_parquet(ledger.datasets.all()[0].location)["late"].dtype == bool
    # the baseline is a learned one-feature split that discriminates, and a gate says so
    assert 0.6 < cand.baseline_metrics["roc_auc"] < cand.metrics["roc_auc"]
    assert _gate(cand, "baseline_discriminates")["passed"]
    # released, the guarded model answers a probability within the rules and a class
    cfg = load_project(project)
    roles = load_roles(REPO / "config" / "roles.yaml")
    release(ledger, roles, cfg, load_rules(rules, cfg), cand.version)
    _, guarded = load_alias(ledger, keys=release_keys(roles.identity, cfg.storage.data_root))
    out = guarded.predict(g.orders.head(300))
    answered = out[out["decision"] != "rejected"]
    assert answered["prediction"].between(0.001, 0.999).all()
    assert (answered["predicted_class"] == (answered["prediction"] >= 0.4)).all()
    assert out.loc[out["decision"] == "rejected", "predicted_class"].isna().all()
    # a constant baseline (the base rate) cannot discriminate: every family is refused
    base["baseline"] = {"rule": "base_rate"}
    base["training"]["families"] = ["baseline", "xgboost"]
    write_project(tmp_path, base=base, **FAST_TRAINING)
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    [xgb] = [m for m in _registered_by(project, run) if m.family == "xgboost"]
    assert xgb.status == "rejected" and xgb.failing_gates == ["baseline_discriminates"]
    assert (
        "baseline 'base_rate' has holdout ROC AUC 0.500"
        in _gate(xgb, "baseline_discriminates")["detail"]
    )


def test_code_package_contains_shared() -> None:
    p = cli_run(TRAIN, "package", "list")
    assert p.returncode == 0, p.stderr
    assert "shared/training/start.py" in p.stdout + p.stderr


def _registered_by(project: Path, run) -> list:
    return [m for m in ledger_of(project).registry.models() if m.flow_run == run.pathspec]


def _gate(m, name: str) -> dict:
    return next(g for g in m.gate_results if g["name"] == name)


def test_a_production_version_better_than_every_new_family_rejects_them(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [champion] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, champion)
    # a much weaker retrain of the same dataset (same holdout): worse than production
    project = write_project(
        tmp_path,
        training__xgboost__n_estimators=3,
        training__torch_mlp__epochs=1,
        training__torch_mlp__learning_rate=1e-5,
    )
    assert project == t.project_path
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    new = _registered_by(project, run)
    assert {m.family for m in new} == {"baseline", "xgboost", "torch_mlp"}
    for m in new:
        if m.family == "baseline":
            continue
        gate = _gate(m, "beats_champion")
        assert m.status == "rejected" and not gate["passed"], gate
        assert f"vs production {champion}" in gate["detail"]
    assert "nothing registered as candidate" in stdout


def test_rules_that_intervene_on_most_holdout_rows_fail_the_guard_rate_gate(
    tmp_path: Path,
) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    rules = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    rules["input"].append(
        {"name": "short_trips_only", "kind": "range", "column": "distance_km", "max": 2.0}
    )
    (t.project_path.parent / "rules.yaml").write_text(yaml.safe_dump(rules))
    run, status, stdout, _ = run_flow(TRAIN, t.project_path)
    assert status == "successful", stdout
    new = _registered_by(t.project_path, run)
    for m in new:
        if m.family == "baseline":
            continue
        gate = _gate(m, "guard_rate")
        assert m.status == "rejected" and not gate["passed"], gate
        assert gate["value"] > 0.5 and gate["threshold"] == 0.15
        assert m.resources["guard"]["decisions"]["fallback"] > 0.5 * sum(
            m.resources["guard"]["decisions"].values()
        )
    assert "nothing registered as candidate" in stdout


def test_rules_that_do_not_fit_the_data_stop_the_train_flow_in_one_line(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    rules = yaml.safe_load((REPO / "config" / "rules.yaml").read_text())
    rules["input"][0]["column"] = "distance_miles"  # distance_in_service_area
    path = tmp_path / "rules.yaml"  # the rules file the project folder names
    path.write_text(yaml.safe_dump(rules))
    p = cli_run(TRAIN, "--config", "project", str(project), "run")
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert (
        f"{path}: rules do not fit project 'eta': rule 'distance_in_service_area' (range): "
        "column 'distance_miles' is not a feature of the project"
    ) in out
    assert "Traceback" not in out
