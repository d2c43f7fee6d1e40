"""Explanations where users meet them (issue 28 item 2): /predict?explain=true over HTTP
(off by default) and `renkei scores --explain` on a scored batch: each answer explained by
whoever gave it, its contributions adding up to the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from shared.cli import cli
from shared.data.generator import generate_orders
from shared.model.explain import XGB_TOLERANCE
from shared.operate.scoring import fresh_batch_start
from shared.operate.service import create_app
from shared.pipeline.score import score
from tests.builders import build, release
from tests.service.test_http import ROW

pytestmark = pytest.mark.slow


def adds_up(e: dict) -> bool:
    total = e["bias"] + sum(e["contributions"].values())
    return abs(total - e["raw"]) <= XGB_TOLERANCE * max(1.0, abs(e["raw"]))


def test_predict_explains_each_answer_only_when_asked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    t = build(tmp_path, url, runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v)
    rows = [ROW, {**ROW, "basket_size": 55}, {**ROW, "distance_km": 55.0}]
    limits = t.cfg.service.model_copy(update={"max_explain_rows": 3})
    cfg = t.cfg.model_copy(update={"service": limits})
    with TestClient(create_app(url, cfg=cfg, identity=t.roles.identity)) as c:
        plain = c.post("/predict", json=rows)
        assert plain.status_code == 200
        assert all("explanation" not in a for a in plain.json()["predictions"])  # off by default
        assert (
            "explanation" not in c.post("/predict?explain=false", json=ROW).json()["predictions"][0]
        )
        got = c.post("/predict?explain=true", json=rows)
        assert got.status_code == 200, got.text
        answers = got.json()["predictions"]
        # more rows than service.max_explain_rows: 413 naming it; the same rows plain: answered
        over = c.post("/predict?explain=true", json=[*rows, ROW])
        assert over.status_code == 413, over.text
        assert "at most 3 (service.max_explain_rows)" in over.json()["detail"]
        assert c.post("/predict", json=[*rows, ROW]).status_code == 200
    # the same answers as without explain, each with what drove it
    assert [{k: v for k, v in a.items() if k != "explanation"} for a in answers] == plain.json()[
        "predictions"
    ]
    model, fallback, rejected = answers
    assert [a["decision"] for a in answers] == ["model", "fallback", "rejected"]
    e = model["explanation"]
    assert (e["explained_by"], e["method"], e["scale"]) == (
        "xgboost",
        "tree_shap",
        "delivery_minutes units",
    )
    assert set(e["contributions"]) == set(t.cfg.features)  # one-hot levels summed back
    assert adds_up(e) and e["raw"] == pytest.approx(model["prediction"], abs=0.05)
    assert abs(e["contributions"]["distance_km"]) > 0
    f = fallback["explanation"]
    assert f["explained_by"] == "baseline" and f["rule"].startswith("eta rule")
    assert adds_up(f) and f["raw"] == pytest.approx(fallback["prediction"], abs=0.05)
    assert rejected["explanation"] is None and rejected["prediction"] is None


def test_renkei_scores_explain_explains_the_batch_answers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    t = build(tmp_path, url, runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v)
    g = generate_orders(600, seed=5, bad_fraction=0.1, start=fresh_batch_start(), days=1)
    src = tmp_path / "batch.csv"
    orders = g.orders.copy()
    orders.loc[orders.index[::7], "basket_size"] = 55  # basket_plausible: baseline answers
    orders.to_csv(src, index=False)
    score(t.ledger, t.cfg, "ScoreFlow/test", "ren", str(src), partition_rows=300, keys=t.keys)

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), "scores", *args])
        assert out.exit_code == 0, out.output
        return out.output

    records = json.loads(renkei("--explain", "--rows", "400", "--json"))
    assert len(records) == 400  # both partitions: rows found through the manifest
    by = {r["decision"]: r for r in records}
    assert {"model", "fallback"} <= set(by) and "rejected" not in by
    for r in records:
        e = r["explanation"]
        assert adds_up(e), r
        assert e["explained_by"] == ("baseline" if r["decision"] == "fallback" else "xgboost")
        if r["decision"] != "corrected":  # the very answer of that row (to the tenth)
            assert e["raw"] == pytest.approx(r["prediction"], abs=0.05), r
    text = renkei("--explain", "--rows", "3")
    assert "explained" in text and "xgboost tree_shap" in text and "(bias)" in text
    # without --explain the listing is as before
    assert "explanation" not in renkei("--json")
