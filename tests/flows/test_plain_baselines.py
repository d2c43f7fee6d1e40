"""The scale bench's plain scripts (bench/plain.py) do the flows' work: on the same files they
keep the same rows, quarantine the same rows, give the same dataset version and the same
guarded answers as the ingest and score flows. Without that, flow seconds / plain seconds
(issue 26's "<= 3x a plain script doing the same") would compare different work."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from bench.bench_scale import differences, flow_counts, run_plain
from shared.data import storage
from shared.data.generator import generate_orders
from shared.operate.scoring import fresh_batch_start
from tests.builders import build, release
from tests.flows.helpers import INGEST, SCORE, run_flow

pytestmark = pytest.mark.slow


def _batch(folder: Path, start: str) -> int:
    """Two CSV files (1,300 rows, 5% bad), the second repeating a valid id of the first;
    the input row of the repeat."""
    folder.mkdir()
    a = generate_orders(700, seed=5, bad_fraction=0.05, start=start, days=3, id_prefix="a")
    b = generate_orders(600, seed=6, bad_fraction=0.05, start=start, days=3, id_prefix="b")
    first_valid = a.orders.index.difference(a.bad_rows["row"])[3]
    later_valid = b.orders.index.difference(b.bad_rows["row"])[10]
    b.orders.loc[later_valid, "order_id"] = a.orders.loc[first_valid, "order_id"]
    a.orders.to_csv(folder / "orders-0000.csv", index=False)
    b.orders.to_csv(folder / "orders-0001.csv", index=False)
    return len(a.orders) + int(later_valid)


def test_plain_scripts_do_the_flows_work_on_the_same_files(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v] = t.candidates
    release(t.ledger, t.roles, t.cfg, t.rules, v, "plain baselines")
    dep = t.ledger.releases.alias("production")
    data = yaml.safe_load(t.project_path.read_text())
    data["storage"]["partition_rows"] = 400  # 4 partitions: the repeated id crosses them
    t.project_path.write_text(yaml.safe_dump(data, sort_keys=False))

    src = tmp_path / "ingest-in"
    repeat = _batch(src, "2026-10-01")
    run, status, stdout, _ = run_flow(INGEST, t.project_path, source=str(src))
    assert status == "successful", stdout
    _, plain = run_plain(
        "ingest", "--project", str(t.project_path), "--source", str(src), "--out",
        str(tmp_path / "plain-ingest"),
    )  # fmt: skip
    flow = flow_counts("ingest", run)
    assert differences(flow, plain) == ""
    assert flow["rows_in"] == 1300 and flow["rows_quarantined"] > 50  # 5% bad + the repeat
    o = run.data.outcome
    valid = pd.read_parquet(tmp_path / "plain-ingest" / "valid.parquet")
    pd.testing.assert_frame_equal(valid, storage.read_parquet(o.dataset_uri))
    quarantined = pd.read_parquet(tmp_path / "plain-ingest" / "quarantine.parquet")
    assert list(quarantined["_row"]) == list(storage.read_parquet(o.quarantine_uri)["_row"])
    assert repeat in set(quarantined["_row"])  # found across partitions by the flow

    src = tmp_path / "score-in"
    _batch(src, fresh_batch_start())
    run, status, stdout, _ = run_flow(SCORE, t.project_path, source=str(src))
    assert status == "successful", stdout
    _, plain = run_plain(
        "score", "--bundle", dep.bundle_uri, "--sha256", dep.bundle_sha256, "--source",
        str(src), "--out", str(tmp_path / "plain-score"),
    )  # fmt: skip
    assert differences(flow_counts("score", run), plain) == ""
    answers = pd.read_parquet(tmp_path / "plain-score")
    scored = pd.read_parquet(run.data.batch.output_uri)[list(answers.columns)]
    pd.testing.assert_frame_equal(answers, scored)
    assert set(answers["decision"]) >= {"model", "rejected"}
