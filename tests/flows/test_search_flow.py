"""training.search through the train flow (issue 28 item 1): Optuna trials as train tasks, the
best trial per family refitted and put through the same gates, the study in its own storage
and in the model's lineage (`renkei models`, `--json`, `renkei lineage`, the app)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from shared.cli import cli
from shared.config import load_project
from shared.ledger import Ledger
from tests.builders import build, release
from tests.conftest import FAST_TRAINING, REPO, write_project
from tests.flows.helpers import INGEST, TRAIN, run_flow

pytestmark = pytest.mark.slow

APP = str(REPO / "app" / "Home.py")
# a tiny search: 3 XGBoost trials in two train tasks (2 + 1), the MLP left out (time)
SEARCH = {
    **FAST_TRAINING,
    "training__families": ["baseline", "xgboost"],
    "training__search": {
        "trials_per_task": 2,
        "xgboost": {"trials": 3, "timeout_minutes": 5, "seed": 3},
    },
}


def ledger_of(project: Path) -> Ledger:
    return Ledger.open(load_project(project).storage.ledger_url)


def _cli(project: Path, *args: str):
    out = CliRunner().invoke(cli, ["--config", str(project), *args])
    assert out.exit_code == 0, out.output
    return out.output


def _gate(m, name: str) -> dict:
    return next(g for g in m.gate_results if g["name"] == name)


def test_a_search_runs_trials_as_tasks_and_the_refitted_best_is_gated_with_its_study(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path, **SEARCH)
    _, status, _, _ = run_flow(INGEST, project, rows=3000)
    assert status == "successful"
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    # two trial-group tasks in the GPU foreach, each a train task of its own
    tasks = [t.pathspec for t in run["train"].tasks()]
    assert len(tasks) == 2
    ledger = ledger_of(project)
    models = {m.family: m for m in ledger.registry.models()}
    assert set(models) == {"baseline", "xgboost"}
    tuned, base = models["xgboost"], models["baseline"]
    assert "search" not in base.resources  # the baseline rule is not searched
    s = tuned.resources["search"]
    assert s["study"] == f"{load_project(project).name}/TrainFlow/{run.id}/xgboost"
    assert s["storage"] == "sqlite" and s["location"].endswith("data/search/studies.db")
    assert s["metric"] == "mae" and s["on"] == "validation" and s["direction"] == "minimize"
    assert s["n_trials"] == 3 and s["n_complete"] + s["n_pruned"] == 3 and s["tasks"] == 2
    assert s["task_seconds"] > 0
    # trial 0 is the configured settings; the chosen trial is the study's best on validation
    trials = {t["number"]: t for t in s["trials"]}
    assert trials[0]["params"] == {"max_depth": 6, "learning_rate": 0.06}
    done = [t for t in s["trials"] if t["state"] == "complete"]
    assert s["best_value"] == min(t["value"] for t in done)
    assert trials[s["best_trial"]]["params"] == s["best_params"]
    # the refitted best went through the same gates and was registered from its trial task
    assert {g["name"] for g in tuned.gate_results} == {
        "beats_baseline",
        "slices_not_worse",
        "beats_champion",
        "guard_rate",
    }
    assert tuned.status == "candidate" and tuned.task_pathspec in tasks
    assert Path(tuned.artifact_uri, "model.json").exists()
    # the study lives in its own SQLite file under the data root, never in the ledger
    import optuna

    studies = tmp_path / "data" / "search" / "studies.db"
    study = optuna.load_study(study_name=s["study"], storage=f"sqlite:///{studies}")
    assert len(study.trials) == 3 and study.best_params == s["best_params"]
    with sqlite3.connect(tmp_path / "ledger.db") as c:
        tables = {r[0] for r in c.execute("select name from sqlite_master where type='table'")}
    assert "studies" not in tables and "trials" not in tables
    # the CLI: renkei models (text and --json) and renkei lineage name the study
    text = _cli(project, "models")
    assert f"{tuned.version} xgboost: study {s['study']} (sqlite): 3 trials" in text
    data = {m["version"]: m for m in json.loads(_cli(project, "models", "--json"))}
    assert data[tuned.version]["study"]["best_params"] == s["best_params"]
    assert len(data[tuned.version]["study"]["trials"]) == 3
    assert data[base.version]["study"] is None
    assert f"search    study {s['study']}" in _cli(project, "lineage", tuned.version)
    lin = json.loads(_cli(project, "lineage", tuned.version, "--json"))
    assert lin["study"]["study"] == s["study"]
    # the app: the model page shows the study and its trials; the costs page its compute
    monkeypatch.setenv("RENKEI_PROJECT", str(project))
    monkeypatch.setenv("RENKEI_LEDGER_URL", "")
    import streamlit as st

    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("views/models.py").run()
    at.selectbox(key="model_version").set_value(tuned.version).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Hyperparameter search" in [h.value for h in at.subheader]
    assert any(f"study {s['study']}" in c.value for c in at.caption)
    [grid] = [d.value for d in at.dataframe if "trial" in d.value.columns]
    assert list(grid["trial"]) == [0, 1, 2]
    assert list(grid.loc[grid["chosen"], "trial"]) == [s["best_trial"]]
    at.switch_page("views/costs.py").run()
    assert not at.exception, [e.value for e in at.exception]
    [costs] = [d.value for d in at.dataframe if "search compute" in d.value.columns]
    row = costs[costs["version"] == tuned.version].iloc[0]
    assert "task-s" in row["search compute"]


def test_the_gates_refuse_a_tuned_model_that_does_not_beat_the_baseline(tmp_path: Path) -> None:
    project = write_project(tmp_path, gates__min_improvement=0.95, **SEARCH)
    run_flow(INGEST, project, rows=3000)
    _, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    assert "nothing registered as candidate" in stdout
    [tuned] = [m for m in ledger_of(project).registry.models() if m.family == "xgboost"]
    assert tuned.resources["search"]["n_trials"] == 3
    assert tuned.status == "rejected" and "beats_baseline" in tuned.failing_gates


def test_the_gates_refuse_a_tuned_model_that_does_not_beat_the_champion(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [champion] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, champion)
    # the same dataset (the same holdout), tuned, but asked to beat production by half
    project = write_project(tmp_path, gates__min_improvement_over_champion=0.5, **SEARCH)
    assert project == t.project_path
    run, status, stdout, _ = run_flow(TRAIN, project)
    assert status == "successful", stdout
    [tuned] = [
        m
        for m in ledger_of(project).registry.models()
        if m.flow_run == run.pathspec and m.family == "xgboost"
    ]
    assert tuned.resources["search"]["study"].endswith(f"/TrainFlow/{run.id}/xgboost")
    gate = _gate(tuned, "beats_champion")
    assert tuned.status == "rejected" and not gate["passed"], gate
    assert f"vs production {champion}" in gate["detail"]
    assert "nothing registered as candidate" in stdout


def test_a_search_over_rows_held_as_parts_tries_a_seeded_sample_and_refits_on_every_part(
    tmp_path: Path,
) -> None:
    # the rows held as parts (training.memory external, parts of 1,000 rows): the trials fit
    # on a seeded sample of at most training.search.sample_rows rows, the chosen settings
    # are refitted through external memory on every part
    search = {**SEARCH["training__search"], "sample_rows": 400}
    project = write_project(
        tmp_path,
        storage__partition_rows=1000,
        **{**SEARCH, "training__search": search},
        training__memory={"mode": "external", "sample_rows": 2000, "batch_rows": 500},
    )
    _, status, _, _ = run_flow(INGEST, project, rows=3000)
    assert status == "successful"
    run, status, stdout, stderr = run_flow(TRAIN, project)
    assert status == "successful", stdout + stderr[-3000:]
    cfg = load_project(project)
    [tuned] = [m for m in ledger_of(project).registry.models() if m.family == "xgboost"]
    s = tuned.resources["search"]
    assert s["n_trials"] == 3 and s["tasks"] == 2
    sample = s["sample"]  # lineage: the trials' rows and seed
    assert sample["max_rows"] == 400 and sample["seed"] == cfg.training.seed
    assert sample["rows"] == {"train": 400, "validation": 400}
    assert sample["of"]["train"] > 400 and sample["of"]["validation"] > 400
    # the refit streamed the parts: external memory, the family itself not on a sample
    data = tuned.resources["data"]
    assert data["memory"] == "external" and data["rows"] == sample["of"]
    assert "fit" not in data["sample"]["used_by"]
    assert tuned.metrics["mae"] > 0 and tuned.task_pathspec in [
        t.pathspec for t in run["train"].tasks()
    ]
    lin = json.loads(_cli(project, "lineage", tuned.version, "--json"))
    assert lin["study"]["sample"] == sample
