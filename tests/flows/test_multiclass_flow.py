"""A multiclass project through the paths users run: scikit-learn's wine data
(examples/wine/) ingested, trained, approved, promoted, scored by the score flow, shown by
`renkei scores` and served by `renkei serve`, each answer with every class's probability,
the predicted class and its prediction set. A tenth of the wines lack their ash or their
magnesium (seeded gaps in the project's two nullable features): kept, trained on and
answered by the model; a wine without its alcohol is quarantined at ingest and rejected by
the service, naming the feature."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_project_set
from shared.data import storage
from shared.ledger import Ledger
from tests.conftest import REPO, free_port, stop_process, wait_for_http
from tests.flows.helpers import INGEST, SCORE, TRAIN, cli_run
from tests.flows.test_own_data import project_folder, raw_batches

pytestmark = pytest.mark.slow

GAPPY = ["ash", "magnesium"]  # the wine project's nullable features (examples/wine/)


def wine() -> pd.DataFrame:
    """scikit-learn's bundled wine data: 13 measurements and the cultivar as its class name."""
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    frame = data.frame.rename(columns={"od280/od315_of_diluted_wines": "od280_od315"})
    frame["target"] = np.asarray(data.target_names)[frame["target"].to_numpy()]
    # the file lists the wines class by class: shuffled (seeded), as an export would be
    order = np.random.default_rng(1).permutation(len(frame))
    frame = frame.iloc[order].reset_index(drop=True)
    # about a tenth of the analyses lack their ash, another tenth their magnesium (seeded)
    rng = np.random.default_rng(7)
    for name in GAPPY:
        frame[name] = frame[name].where(rng.random(len(frame)) >= 0.1)
    return frame


def as_json_rows(frame: pd.DataFrame) -> list[dict]:
    """Rows as a client sends them: a gap (NaN in the frame) is null."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_the_wine_project_runs_the_whole_loop_and_answers_classes(tmp_path: Path) -> None:
    folder = project_folder("wine", tmp_path)
    path = folder / "project.yaml"
    project = str(path)
    pset = load_project_set(folder)
    cfg = pset.project
    classes = list(cfg.classes or [])
    assert cfg.nullable_features == GAPPY
    train_csv, new_csv = raw_batches(wine(), folder, tmp_path)
    raw = pd.read_csv(train_csv)
    # one analysis without its alcohol, which may not be missing: quarantined, with its reason
    raw.loc[4, "alcohol"] = None
    raw.to_csv(train_csv, index=False)
    gaps = raw.drop(index=4)[GAPPY].isna()
    assert gaps.sum().min() >= 10 and gaps.any(axis=1).sum() >= 20  # the seeded gaps
    flow_cfg = ("--config", "project", project)

    def ok(p) -> str:
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-3000:]
        return out

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(folder), *args])
        assert out.exit_code == 0, out.output
        return out.output

    renkei("db", "upgrade")
    ok(cli_run(INGEST, *flow_cfg, "run", "--source", str(train_csv)))
    ledger = Ledger.open(cfg.storage.ledger_url)
    [ds] = ledger.datasets.all()
    stored = pd.read_parquet(ds.location)
    assert set(stored["cultivar"]) == set(classes)  # labels kept as the class names
    # every wine with a gap in ash or magnesium is kept, the gap as a missing value; only
    # the wine without its alcohol is quarantined
    assert (ds.rows_in, ds.rows_valid, ds.rows_quarantined) == (len(raw), len(raw) - 1, 1)
    q = ledger.datasets.quarantine(ds.version)
    assert [(c.column, c.check, [e.row for e in c.examples]) for c in q.by_check] == [
        ("alcohol", "not_nullable", [4])
    ]
    assert stored[GAPPY].isna().sum().to_dict() == gaps.sum().to_dict()
    ok(cli_run(TRAIN, *flow_cfg, "run"))
    [cand] = [m for m in ledger.registry.models() if m.status == "candidate"]
    assert cand.family != "baseline" and cand.key_metric == "log_loss"
    assert cand.metrics["log_loss"] <= 0.95 * cand.baseline_metrics["log_loss"]
    assert cand.metrics["accuracy"] > cand.baseline_metrics["accuracy"]
    assert {"accuracy", "macro_f1", *(f"recall_{c}" for c in classes)} <= set(cand.metrics)
    assert all(g["passed"] for g in cand.gate_results), cand.gate_results

    people = pset.roles.members
    [expert, risk] = [people[r][0] for r in pset.roles.approval.required_roles]
    renkei("approve", cand.version, "--as", expert, "--comment", "fits what I know")
    renkei("approve", cand.version, "--as", risk, "--comment", "risk acceptable")
    renkei("promote", cand.version, "--to", "production", "--as", people["MLOps Engineer"][0])

    # batch scoring: one probability column per class, the class and its set per row
    ok(cli_run(SCORE, *flow_cfg, "run", "--source", str(new_csv)))
    [batch] = ledger.operations.scoring_batches()
    new = pd.read_csv(new_csv)
    assert batch.rows == len(new) and batch.version == cand.version
    out = storage.read_parquet(batch.output_uri)
    probs = out[[f"p_{c}" for c in classes]]
    answered = out["decision"] != "rejected"
    assert answered.sum() >= 0.8 * len(out), out["decision"].value_counts()
    # the wines with gaps are answered, and no rule fired on their gaps
    gappy = new[GAPPY].isna().any(axis=1).to_numpy()
    assert gappy.sum() >= 2 and answered.to_numpy()[gappy].all(), out[gappy]
    assert not out["reasons"].fillna("").str.contains("|".join(GAPPY)).any(), out["reasons"]
    assert np.allclose(probs[answered].sum(axis=1), 1.0)
    best = np.asarray(classes)[probs[answered].to_numpy().argmax(axis=1)]
    assert (out.loc[answered, "predicted_class"] == best).all()
    sets = out.loc[answered, "prediction_set"].str.split("|")
    assert all(c in s for c, s in zip(out.loc[answered, "predicted_class"], sets, strict=True))
    truth = wine().iloc[int(len(wine()) * 0.85) :]["target"].to_numpy()
    hits = out["predicted_class"].to_numpy() == truth[out["input_row"].to_numpy()]
    assert hits[answered.to_numpy()].mean() >= 0.8  # the wines it never saw
    shown = json.loads(renkei("scores", "--rows", "5", "--json"))
    assert len(shown) == 5
    assert list(shown[0]) == [
        "row_id",
        "predicted_class",
        "prediction_set",
        *(f"p_{c}" for c in classes),
        "decision",
        "reasons",
    ]
    assert "90% prediction sets" in renkei("scores", "--rows", "3")

    # costs from the per-class value table, in the project's own terms
    econ = json.loads(renkei("costs", "--json"))
    [mine] = [m for m in econ["per_model"] if m["version"] == cand.version]
    assert mine["monthly_benefit"] > 0

    # the service answers every class's probability, the class and the prediction set
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "--project", str(folder), "serve"]
        + ["--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/health", proc)
        rows = as_json_rows(new.head(3))
        rows[2]["proline"] = 2200.0  # within the contract, outside the range rule: rejected
        # in the same request, the surest wine the model answered in the batch: with a gap
        # in each nullable feature (null, absent), and without its alcohol (null, absent)
        surest = out[out["decision"] == "model"].sort_values("prediction").iloc[-1]
        sure = as_json_rows(new.iloc[[int(surest["input_row"])]])[0]
        rows += [
            {**sure, "wine_id": "no-ash", "ash": None},
            {k: v for k, v in sure.items() if k != "magnesium"} | {"wine_id": "no-magnesium"},
            {**sure, "wine_id": "no-ash-no-magnesium", "ash": None, "magnesium": None},
            {**sure, "wine_id": "null-alcohol", "alcohol": None},
            {k: v for k, v in sure.items() if k != "alcohol"} | {"wine_id": "no-alcohol"},
        ]
        with httpx.Client(base_url=base, timeout=20, trust_env=False) as c:
            r = c.post("/predict", json=rows)
            assert r.status_code == 200, r.text
            answers = r.json()["predictions"]
        for a in answers[:2]:
            assert a["decision"] in ("model", "fallback"), a
            assert set(a["probabilities"]) == set(classes)
            assert sum(a["probabilities"].values()) == pytest.approx(1.0)
            assert a["predicted_class"] == max(a["probabilities"], key=a["probabilities"].get)
            assert a["prediction"] == pytest.approx(a["probabilities"][a["predicted_class"]])
            assert a["predicted_class"] in a["prediction_set"]
        assert answers[2]["decision"] == "rejected" and "proline_plausible" in answers[2]["reasons"]
        assert answers[2]["probabilities"] is None and answers[2]["predicted_class"] is None
        for a in answers[3:6]:  # a gap in a nullable feature: the model answers
            assert (a["decision"], a["reasons"]) == ("model", []), a
            assert set(a["probabilities"]) == set(classes)
            assert sum(a["probabilities"].values()) == pytest.approx(1.0)
            assert a["predicted_class"] == max(a["probabilities"], key=a["probabilities"].get)
            assert a["predicted_class"] in a["prediction_set"]
        for a in answers[6:]:  # no alcohol: that row alone is refused, naming the feature
            assert (a["decision"], a["reasons"]) == ("rejected", ["schema:alcohol:not_nullable"])
            assert a["probabilities"] is None and a["predicted_class"] is None
        scored = out.set_index("row_id")
        for a in answers[:2]:  # the service and the score flow give the same answer
            assert a["predicted_class"] == scored.loc[a["row_id"], "predicted_class"]
    finally:
        stop_process(proc)
