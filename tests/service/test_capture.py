"""Online capture through a real `renkei serve` on 127.0.0.1: a burst of requests is captured
to Parquet in the background with nothing lost, and a full queue drops and counts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
import yaml

from shared.operate.capture import capture_files, read_capture
from tests.builders import build
from tests.conftest import stop_process, wait_for_http
from tests.service.test_http import ROW, _approve_and_promote, start_service

pytestmark = pytest.mark.slow


def _with_capture(project_path: Path, **settings: object) -> None:
    data = yaml.safe_load(project_path.read_text())
    data["capture"] = {**data.get("capture", {}), **settings}
    project_path.write_text(yaml.safe_dump(data, sort_keys=False))


async def _burst(base: str, n: int) -> list[dict]:
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(
        base_url=base, timeout=30, trust_env=False, limits=limits
    ) as c:
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


def test_a_burst_is_captured_whole_and_matches_the_answers(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v1] = t.candidates
    _approve_and_promote(t, v1)
    _with_capture(t.project_path, batch_rows=50, flush_seconds=0.2)
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
        assert got["cuisine"] == "pizza" and pd_isna(got["shadow_version"])


def pd_isna(x: object) -> bool:
    import pandas as pd

    return bool(pd.isna(x))


def test_a_full_queue_still_answers_and_counts_every_dropped_capture(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1)
    [v1] = t.candidates
    _approve_and_promote(t, v1)
    # a tiny queue and a slow flush: the burst overflows it
    _with_capture(t.project_path, queue_rows=2, batch_rows=1000, flush_seconds=2.0)
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
