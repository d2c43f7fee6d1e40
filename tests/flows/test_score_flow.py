"""Batch scoring through Metaflow's Runner, with lineage from an output row to raw data."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from shared.data.generator import generate_orders
from shared.operate.scoring import fresh_batch_start
from tests.builders import build, release
from tests.flows.helpers import SCORE, cli_run, run_flow

pytestmark = pytest.mark.slow


def test_score_flow_guards_every_row_and_records_lineage(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v, "first")
    g = generate_orders(
        900, seed=77, bad_fraction=0.1, drift=0.6, start=fresh_batch_start(), days=1, id_prefix="s"
    )
    src = tmp_path / "to_score.csv"
    g.orders.to_csv(src, index=False)
    run, status, stdout, _ = run_flow(SCORE, t.project_path, source=str(src), partition_rows=400)
    assert status == "successful", stdout
    [batch] = t.ledger.operations.scoring_batches()
    assert batch.rows == 900 and batch.version == v and batch.flow_run == run.pathspec
    assert sum(batch.decisions.values()) == 900
    assert batch.decisions["rejected"] >= 60  # the generator's bad rows are caught
    out = pd.read_parquet(batch.output_uri)
    assert len(out) == 900 and list(out["input_row"]) == list(range(900))
    assert set(out["decision"]) <= {"model", "corrected", "fallback", "rejected"}
    assert (out["model_version"] == v).all()
    assert out.loc[out["decision"] == "rejected", "prediction"].isna().all()
    # every bad row the generator made is rejected or answered by the fallback, with a reason
    # (a repeated or missing order id is no reason to refuse an answer: the features decide)
    answerable = g.bad_rows["kind"].isin(["duplicated_id", "missing_id"])
    bad = out.loc[g.bad_rows.loc[~answerable, "row"]]
    assert (bad["decision"].isin(["rejected", "fallback"])).all() and (bad["reasons"] != "").all()
    # lineage: an output row -> batch -> deployment (rules + model) -> training data -> raw
    row = out.iloc[5]
    lin = t.ledger.operations.batch_lineage(batch.id)
    assert lin.batch.output_uri == batch.output_uri and row["flow_run"] == batch.flow_run
    assert lin.deployment.rules_hash == t.rules.rules_hash()
    assert lin.model.version == row["model_version"]
    raw_source = lin.datasets[0].raw_source
    assert (
        Path(raw_source).exists()
        and Path(lin.datasets[0].raw_uri).read_bytes() == Path(raw_source).read_bytes()
    )
    assert Path(batch.input_uri).read_bytes() == src.read_bytes()
    assert f"scoring batch {batch.id}" in stdout


def test_score_without_production_is_a_clear_error(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    p = cli_run(SCORE, "--config", "project", str(t.project_path), "run", "--rows", "100")
    assert p.returncode != 0
    assert "no model serves 'production'" in p.stdout + p.stderr
    assert "Traceback" not in p.stdout + p.stderr
