"""Bring your own data: a public dataset as a second project folder, run through ingest,
train, approve, promote and score with config files only (examples/<name>/)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project_set
from shared.ledger import Ledger
from tests.conftest import FAST_TRAINING, REPO
from tests.flows.helpers import INGEST, SCORE, TRAIN, cli_run

pytestmark = pytest.mark.slow


def diabetes() -> pd.DataFrame:
    """scikit-learn's bundled diabetes data in its original units: features and target."""
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame


# example folder -> the bundled data set (features and a "target" column); a binary case
# is one more entry with its own examples/<name>/ folder
CASES: dict[str, Callable[[], pd.DataFrame]] = {"diabetes": diabetes}


def project_folder(name: str, tmp: Path) -> Path:
    """examples/<name>/ copied into ``tmp``, with data and ledger under ``tmp``."""
    folder = tmp / name
    shutil.copytree(REPO / "examples" / name, folder)
    path = folder / "project.yaml"
    data = yaml.safe_load(path.read_text())
    data["storage"] = {"data_root": str(tmp / "data"), "ledger_url": f"sqlite:///{tmp / 'l.db'}"}
    files = data.get("files", {})
    for key, rel in files.items():  # files outside the folder: point at the checkout's copy
        if rel.startswith("../"):
            files[key] = str((REPO / "examples" / name / rel).resolve())
    for key, value in FAST_TRAINING.items():
        *parents, leaf = key.split("__")
        node = data
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def raw_batches(frame: pd.DataFrame, folder: Path, tmp: Path) -> tuple[Path, Path]:
    """The data as a user would export it: an id, a timestamp, the features, the target
    (renamed as the project names it); 85% to train on, the rest to score (no target)."""
    cfg = load_project_set(folder).project
    rng = np.random.default_rng(0)
    out = frame.rename(columns={"target": cfg.target}).copy()
    out.insert(0, cfg.id_column, [f"r{i:05d}" for i in range(len(out))])
    days = rng.permutation(len(out))  # no time order in the data: a random split by "time"
    out.insert(1, cfg.timestamp_column, pd.Timestamp("2025-01-01") + pd.to_timedelta(days, "h"))
    cut = int(len(out) * 0.85)
    train, new = tmp / "train.csv", tmp / "new.csv"
    out.iloc[:cut].to_csv(train, index=False)
    out.iloc[cut:].drop(columns=[cfg.target]).to_csv(new, index=False)
    return train, new


@pytest.mark.parametrize("name", sorted(CASES))
def test_own_data_as_a_second_project_folder(name: str, tmp_path: Path) -> None:
    folder = project_folder(name, tmp_path)
    project = str(folder / "project.yaml")
    pset = load_project_set(folder)
    cfg = pset.project
    train_csv, new_csv = raw_batches(CASES[name](), folder, tmp_path)
    flow_cfg = ("--config", "project", project)

    def ok(p) -> str:
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-3000:]
        return out

    created = CliRunner().invoke(cli, ["--project", str(folder), "db", "upgrade"])
    assert created.exit_code == 0, created.output  # a new project creates its ledger first
    ok(cli_run(INGEST, *flow_cfg, "run", "--source", str(train_csv)))
    ok(cli_run(TRAIN, *flow_cfg, "run"))
    ledger = Ledger.open(cfg.storage.ledger_url)
    [cand] = [m for m in ledger.registry.models() if m.status == "candidate"]
    km = cfg.training.key_metric
    better = (
        cand.metrics[km] > cand.baseline_metrics[km]
        if cfg.higher_is_better
        else cand.metrics[km] <= (1 - cfg.gates.min_improvement) * cand.baseline_metrics[km]
    )
    assert cand.family != "baseline" and better, (cand.metrics, cand.baseline_metrics)

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(folder), *args])
        assert out.exit_code == 0, out.output
        return out.output

    people = pset.roles.members
    [expert, risk] = [people[r][0] for r in pset.roles.approval.required_roles]
    renkei("approve", cand.version, "--as", expert, "--comment", "fits what I know")
    renkei("approve", cand.version, "--as", risk, "--comment", "risk acceptable")
    renkei("promote", cand.version, "--to", "production", "--as", people["MLOps Engineer"][0])
    out = ok(cli_run(SCORE, *flow_cfg, "run", "--source", str(new_csv)))
    [batch] = ledger.operations.scoring_batches()
    assert batch.rows == len(pd.read_csv(new_csv)) and batch.version == cand.version, out
    assert batch.decisions.get("model", 0) >= 0.8 * batch.rows, batch.decisions
    # the generator is the built-in use case's only
    p = cli_run(SCORE, *flow_cfg, "run")
    assert p.returncode != 0 and "pass --source" in p.stdout + p.stderr
    # costs come from the folder's costs file, in the project's own terms
    econ = json.loads(renkei("costs", "--json"))
    assert econ["fixed"] == sum(pset.costs.fixed_monthly.values()) * pset.costs.months_per_model
    [mine] = [m for m in econ["per_model"] if m["version"] == cand.version]
    b = pset.costs.benefit
    if cfg.task == "regression":
        want = (
            (cand.baseline_metrics[km] - cand.metrics[km])
            * b.value_per_unit_improvement
            * b.predictions_per_month
        )
        assert mine["monthly_benefit"] == pytest.approx(want)
    assert mine["monthly_benefit"] > 0
