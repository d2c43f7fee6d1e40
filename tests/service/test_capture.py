"""Online capture through a real `renkei serve` on 127.0.0.1: a burst of requests is captured
to Parquet in the background with nothing lost, and a full queue drops and counts."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import CaptureSettings, load_project
from shared.operate.capture import Captured, writer_for
from shared.operate.capture_worker import _Worker
from shared.operate.captured import capture_files, read_capture
from tests.builders import Trained, build
from tests.conftest import stop_process, wait_for_http, write_project
from tests.service.test_http import ROW, _approve_and_promote, start_service


def _with_capture(project_path: Path, **settings: object) -> None:
    data = yaml.safe_load(project_path.read_text())
    data["capture"] = {**data.get("capture", {}), **settings}
    project_path.write_text(yaml.safe_dump(data, sort_keys=False))


def served(tmp_path: Path, runs: int = 1, **capture: object) -> Trained:
    """``runs`` trained candidates, the first in production, capture settings as given."""
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=runs)
    _approve_and_promote(t, t.candidates[0])
    _with_capture(t.project_path, **capture)
    return t


async def _burst(base: str, n: int) -> list[dict]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=base, timeout=30, trust_env=False, limits=limits) as c:
        rows = [{**ROW, "order_id": f"burst-{i}", "distance_km": 1 + i % 20} for i in range(n)]
        replies = await asyncio.gather(*(c.post("/predict", json=r) for r in rows))
    assert all(r.status_code == 200 for r in replies)
    return [r.json() for r in replies]


def _settled(c: httpx.Client, sent: int, timeout: float = 60) -> dict:
    """/health's capture counts once every answer is written, dropped or sampled out."""
    deadline = time.time() + timeout
    while True:
        counts = c.get("/health").json()["capture"]
        if counts["written"] + counts["dropped"] + counts["sampled_out"] == sent:
            return counts
        assert time.time() < deadline, counts
        time.sleep(0.1)


@pytest.mark.slow
def test_a_burst_is_captured_whole_and_matches_the_answers(tmp_path: Path) -> None:
    t = served(tmp_path, batch_rows=50, flush_seconds=0.2)
    [v1] = t.candidates
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        replies = asyncio.run(_burst(base, 300))
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            counts = _settled(c, 300)
    finally:
        stop_process(proc)
    assert counts["dropped"] == 0 and counts["written"] == 300 and counts["write_errors"] == 0
    files = capture_files(t.cfg.storage.data_root)
    assert files and all("/capture/alias=production/date=" in f for f in files)
    rows = read_capture(t.cfg.storage.data_root).set_index("request_id")
    assert len(rows) == 300 and rows.index.is_unique
    for reply in replies:
        got = rows.loc[reply["request_id"]]
        [ans] = reply["predictions"]
        assert got["row_id"] == ans["row_id"] and got["decision"] == ans["decision"]
        assert got["prediction"] == pytest.approx(ans["prediction"])
        assert got["model_version"] == v1 and got["caller"].startswith("anonymous")
        assert got["distance_km"] == float(ans["row_id"].split("-")[1]) % 20 + 1
        assert got["cuisine"] == "pizza" and pd.isna(got["shadow_version"])


@pytest.mark.slow
def test_a_full_queue_still_answers_and_counts_every_dropped_capture(tmp_path: Path) -> None:
    # a tiny queue and a slow flush: the burst overflows it
    t = served(tmp_path, queue_rows=2, batch_rows=1000, flush_seconds=2.0)
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        replies = asyncio.run(_burst(base, 120))
        assert len({r["request_id"] for r in replies}) == 120  # every request was answered
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            counts = _settled(c, 120)
    finally:
        stop_process(proc)
    assert counts["dropped"] > 0
    assert counts["written"] + counts["dropped"] == 120 == counts["answers"]
    assert len(read_capture(t.cfg.storage.data_root)) == counts["written"]


@pytest.mark.slow
def test_feedback_joins_online_answers_and_lineage_reaches_the_raw_training_file(
    tmp_path: Path,
) -> None:
    t = served(tmp_path, flush_seconds=0.2)
    [v1] = t.candidates
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            by_id = c.post("/predict", json={**ROW, "order_id": "web-7"}).json()
            no_id = c.post("/predict", json={k: v for k, v in ROW.items() if k != "order_id"})
            pair = c.post(
                "/predict", json=[{**ROW, "order_id": "web-8"}, {**ROW, "order_id": "web-9"}]
            ).json()
            _settled(c, 4)
    finally:
        stop_process(proc)
    no_id = no_id.json()
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "request_id,order_id,delivery_minutes\n"
        ",web-7,31\n"  # by row id: no scoring batch has it, the online answer does
        f"{no_id['request_id']},,25\n"  # by request id alone (a one-row request)
        f"{pair['request_id']},web-9,40\n"  # request id + row id (a two-row request)
        ",web-7,33\n"  # the same answer again: duplicate
        "nobody,,20\n"  # an unknown request id
    )

    def renkei(*args: str) -> str:
        out = CliRunner().invoke(cli, ["--project", str(t.project_path), *args])
        assert out.exit_code == 0, out.output
        return out.output

    said = renkei("feedback", str(labels), "--as", "ren")
    assert "5 labels" in said and "3 accepted" in said and "1 duplicates" in said, said
    assert "1 unknown ids" in said, said
    got = t.ledger.operations.labelled_rows().set_index("row_id")
    assert got.loc["web-7", "request_id"] == by_id["request_id"]
    assert got.loc["web-7", "value"] == 31 and pd.isna(got.loc["web-7", "scoring_batch_id"])
    assert got.loc["web-9", "request_id"] == pair["request_id"]
    assert (got["request_id"] == no_id["request_id"]).sum() == 1
    # lineage: online request id -> deployment -> model -> training data -> raw file
    lin = json.loads(renkei("lineage", pair["request_id"], "--json"))
    dep = t.ledger.releases.alias("production")
    assert lin["request_id"] == pair["request_id"] and lin["version"] == v1
    assert [a["row_id"] for a in lin["answers"]] == ["web-8", "web-9"]
    assert lin["deployment"]["id"] == dep.id
    assert lin["deployment"]["rules_version"] == dep.rules_version
    [ds] = lin["datasets"]
    assert Path(ds["raw_uri"]).read_bytes() == Path(ds["raw_source"]).read_bytes()
    text = renkei("lineage", pair["request_id"])
    assert f"deployment {dep.id} (production)" in text and ds["raw_source"] in text
    missing = CliRunner().invoke(cli, ["--project", str(t.project_path), "lineage", "nope"])
    assert missing.exit_code != 0 and "no captured online answer" in missing.output


def _captured(i: int, at: datetime) -> Captured:
    answer = {
        "row_id": f"r{i}",
        "prediction": 30.0,
        "predicted_class": None,
        "decision": "model",
        "reasons": [],
        "model_version": "v1",
        "rules_version": "r1",
    }
    return Captured(f"q{i}", "anonymous", at, 1, [dict(ROW)], [answer])


def test_sampling_is_counted_and_retention_deletes_old_partitions(tmp_path: Path) -> None:
    cfg = load_project(write_project(tmp_path))
    now = datetime.now(UTC)
    # sample none: every answer is counted as sampled out, nothing is written
    none = writer_for(cfg.model_copy(update={"capture": CaptureSettings(sample_rate=0.0)}), "p")
    none.start()
    assert not any(none.offer(_captured(i, now)) for i in range(10))
    none.stop()
    assert (none.counts.sampled_out, none.counts.written) == (10, 0)
    assert capture_files(cfg.storage.data_root) == []
    # an old partition and today's: retention keeps only what is younger than retention_days
    keep = writer_for(cfg.model_copy(update={"capture": CaptureSettings(retention_days=7)}), "p")
    keep.start()
    for i, at in enumerate([now - timedelta(days=30), now - timedelta(days=8), now]):
        assert keep.offer(_captured(i, at))
    keep.stop()  # one batch: each answer in its own day's partition
    days = sorted(f.split("date=")[1][:10] for f in capture_files(cfg.storage.data_root))
    assert len(days) == 3 and keep.counts.written == 3
    assert keep.prune() == 2
    assert [f.split("date=")[1][:10] for f in capture_files(cfg.storage.data_root)] == [
        now.strftime("%Y-%m-%d")
    ]
    assert read_capture(cfg.storage.data_root)["request_id"].tolist() == ["q2"]


class _FailingShadow:
    """A challenger that loads but fails on every request (a model bug, a feature it lacks):
    what the writer's shadow holder would hand out. It cannot be built from a real bundle
    here without a broken model, hence this stand-in for the holder alone."""

    def get(self) -> tuple[object, object]:
        class Model:
            def predict_records(self, records: list[dict]) -> list[dict]:
                raise ValueError("shadow model broke")

        return SimpleNamespace(id=7, version="v9"), Model()


def test_a_shadow_that_fails_never_costs_production_its_captured_answers(tmp_path: Path) -> None:
    cfg = load_project(write_project(tmp_path))
    writer = writer_for(cfg, "production")
    worker = _Worker(writer.spec, writer._done, writer._status)
    worker.shadow = _FailingShadow()  # type: ignore[assignment]
    now = datetime.now(UTC)
    batch = [_captured(i, now) for i in range(3)]
    worker._write(now.strftime("%Y-%m-%d"), batch, 3)
    counts = writer.counts
    assert (counts.written, counts.write_errors, counts.shadow_errors) == (3, 0, 3)
    assert "shadow v9: ValueError: shadow model broke" in counts.last_error
    rows = read_capture(cfg.storage.data_root)
    assert rows["request_id"].tolist() == ["q0", "q1", "q2"]
    assert rows["shadow_version"].isna().all() and (rows["model_version"] == "v1").all()


class _PickyShadow(_FailingShadow):
    """A challenger that fails only on rows with a distance over 50 km."""

    def get(self) -> tuple[object, object]:
        class Model:
            def predict_records(self, records: list[dict]) -> list[dict]:
                if any(r["distance_km"] > 50 for r in records):
                    raise ValueError("too far for the shadow")
                return [
                    {**_captured(0, datetime.now(UTC)).answers[0], "model_version": "v9"}
                ] * len(records)

        return SimpleNamespace(id=7, version="v9"), Model()


def test_a_batch_answered_by_the_shadow_at_once_loses_only_the_failing_requests(
    tmp_path: Path,
) -> None:
    cfg = load_project(write_project(tmp_path))
    writer = writer_for(cfg, "production")
    worker = _Worker(writer.spec, writer._done, writer._status)
    worker.shadow = _PickyShadow()  # type: ignore[assignment]
    now = datetime.now(UTC)
    batch = [_captured(i, now) for i in range(3)]
    batch[1].records[0]["distance_km"] = 80.0
    worker._write(now.strftime("%Y-%m-%d"), batch, 3)
    assert (writer.counts.written, writer.counts.shadow_errors) == (3, 1)
    rows = read_capture(cfg.storage.data_root).set_index("request_id")
    assert rows["shadow_version"].fillna("-").to_dict() == {"q0": "v9", "q1": "-", "q2": "v9"}
