"""Faults around online capture, through a real `renkei serve`: a shadow challenger whose
bundle does not load, and a capture writer process killed under the service. Production
keeps answering in both; /health says what broke; no answer goes uncounted."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner

from shared.cli import cli
from shared.ledger.releases import shadow_alias
from shared.operate.captured import read_capture
from tests.conftest import stop_process, wait_for_http
from tests.service.test_capture import _settled, served
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow


def _health_until(c: httpx.Client, ok: object, timeout: float = 60) -> dict:
    """/health once ``ok(health)`` holds (fails with the last health after ``timeout``)."""
    deadline = time.time() + timeout
    while not ok(health := c.get("/health").json()):  # type: ignore[operator]
        assert time.time() < deadline, health
        time.sleep(0.1)
    return health


def test_a_shadow_whose_bundle_does_not_load_leaves_production_answering_and_captured(
    tmp_path: Path,
) -> None:
    t = served(tmp_path, runs=2, flush_seconds=0.2)
    v1, v2 = t.candidates
    out = CliRunner().invoke(cli, ["--project", str(t.project_path), "shadow", v2, "--as", "sora"])
    assert out.exit_code == 0, out.output
    # the challenger's bundle is damaged on storage after it was attached
    bundle = Path(t.ledger.releases.alias(shadow_alias("production")).bundle_uri)
    bundle.write_bytes(bundle.read_bytes()[:1000])
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            health = c.get("/health").json()
            assert health["status"] == "ok" and health["model_version"] == v1
            shadow = health["shadow"]
            assert shadow["status"] == "degraded" and shadow["model_version"] is None
            assert shadow["failed"]["model_version"] == v2 and shadow["failed"]["reason"]
            replies = [c.post("/predict", json={**ROW, "order_id": f"s-{i}"}) for i in range(20)]
            assert all(r.status_code == 200 for r in replies)
            assert {r.json()["model_version"] for r in replies} == {v1}
            counts = _settled(c, 20)
    finally:
        stop_process(proc)
    assert counts["written"] == 20 and counts["write_errors"] == 0
    rows = read_capture(t.cfg.storage.data_root)
    assert len(rows) == 20 and (rows["model_version"] == v1).all()
    assert rows["shadow_version"].isna().all() and rows["shadow_prediction"].isna().all()


def test_a_killed_capture_writer_degrades_health_and_every_later_answer_counts_as_dropped(
    tmp_path: Path,
) -> None:
    t = served(tmp_path, flush_seconds=0.2, writer_restarts=0)  # no replacement
    [v1] = t.candidates
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            for i in range(5):
                assert c.post("/predict", json={**ROW, "order_id": f"a-{i}"}).status_code == 200
            before = _settled(c, 5)
            assert before["written"] == 5 and before["writer_running"] is True
            os.kill(before["writer_pid"], signal.SIGKILL)
            health = _health_until(c, lambda h: not h["capture"]["writer_running"])
            assert health["status"] == "degraded" and health["model_version"] == v1
            assert "writer process ended" in health["capture"]["last_error"]
            replies = [c.post("/predict", json={**ROW, "order_id": f"b-{i}"}) for i in range(10)]
            assert all(r.status_code == 200 for r in replies)  # still answering
            counts = c.get("/health").json()["capture"]
    finally:
        stop_process(proc)
    assert counts["answers"] == 15 and counts["written"] == 5 and counts["dropped"] == 10
    assert counts["written"] + counts["dropped"] + counts["sampled_out"] == counts["answers"]
    rows = read_capture(t.cfg.storage.data_root)
    assert sorted(rows["row_id"]) == [f"a-{i}" for i in range(5)]
    assert not pd.Series(rows["row_id"]).str.startswith("b-").any()


def test_a_killed_capture_writer_is_replaced_and_what_it_could_not_take_counts_as_dropped(
    tmp_path: Path,
) -> None:
    t = served(tmp_path, flush_seconds=0.2)  # capture.writer_restarts: 3 (the default)
    [v1] = t.candidates
    proc, base, _ = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            for i in range(5):
                assert c.post("/predict", json={**ROW, "order_id": f"a-{i}"}).status_code == 200
            before = _settled(c, 5)
            os.kill(before["writer_pid"], signal.SIGKILL)
            # answered while the writer is dead or its successor starts: dropped, counted
            replies = [c.post("/predict", json={**ROW, "order_id": f"m-{i}"}) for i in range(5)]
            assert all(r.status_code == 200 for r in replies)
            health = _health_until(
                c, lambda h: h["capture"]["writer_restarts"] == 1 and h["capture"]["writer_running"]
            )
            assert health["status"] == "ok" and health["model_version"] == v1
            assert health["capture"]["writer_pid"] != before["writer_pid"]
            for i in range(10):
                assert c.post("/predict", json={**ROW, "order_id": f"b-{i}"}).status_code == 200
            counts = _settled(c, 20)
    finally:
        stop_process(proc)
    assert counts["answers"] == 20 and counts["sampled_out"] == 0
    assert counts["written"] + counts["dropped"] == 20 and counts["dropped"] <= 5
    rows = read_capture(t.cfg.storage.data_root)
    assert len(rows) == counts["written"]  # what /health calls written is on storage, once
    ids = set(rows["row_id"])
    assert {f"a-{i}" for i in range(5)} | {f"b-{i}" for i in range(10)} <= ids
