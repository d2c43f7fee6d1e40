"""`renkei serve --workers 2` under load on 127.0.0.1 (issue 30): 1,500 requests of 1 to 5
rows at concurrency 32, production moved through the CLI in the middle and one worker's
capture writer killed: no 5xx, every answer's version consistent with the alias history,
every answer written, dropped or sampled out; /health shows the failing worker whichever
worker answers, a killed worker shows as dead and is replaced, and SIGTERM drains capture.
Counts are fixed; nothing asserts a time."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from shared.cli import cli
from shared.operate.captured import read_capture
from tests.conftest import until_health, wait_for_http
from tests.service.test_capture import served
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow

CONCURRENCY = 32
PHASE = 500  # requests before the move, during it, and after every worker reports it


def _health(base: str) -> dict:
    """/health over a fresh connection (whichever worker accepts it answers)."""
    return httpx.get(f"{base}/health", timeout=30, trust_env=False).json()


async def _load(base: str, start: int, n: int) -> list[tuple[int, dict | None, str]]:
    """``n`` requests of 1 to 5 rows, CONCURRENCY at a time: (status, body, worker)."""
    limits = httpx.Limits(max_connections=CONCURRENCY)
    sem = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(base_url=base, timeout=120, trust_env=False, limits=limits) as c:

        async def one(i: int) -> tuple[int, dict | None, str]:
            rows = [{**ROW, "order_id": f"w{i}-{k}"} for k in range(i % 5 + 1)]
            async with sem:
                r = await c.post("/predict", json=rows)
            body = r.json() if r.status_code == 200 else None
            return r.status_code, body, r.headers.get("x-renkei-worker", "")

        return await asyncio.gather(*(one(i) for i in range(start, start + n)))


def _versions(replies: list[tuple[int, dict | None, str]]) -> set[str]:
    out = set()
    for status, body, _ in replies:
        assert status == 200, status  # no 5xx, nor any other refusal
        assert body is not None and {a["model_version"] for a in body["predictions"]} == {
            body["model_version"]
        }
        out.add(body["model_version"])
    return out


def test_two_workers_under_load_through_a_move_and_a_killed_capture_writer(
    tmp_path: Path,
) -> None:
    # the killed writer stays dead (no restart): its worker must show degraded to every /health
    t = served(tmp_path, runs=2, flush_seconds=5.0, writer_restarts=0)
    v1, v2 = t.candidates
    for who in ("kenji", "yui"):
        out = CliRunner().invoke(
            cli, ["--project", str(t.project_path), "approve", v2, "--as", who, "--comment", "ok"]
        )
        assert out.exit_code == 0, out.output
    log = tmp_path / "serve.log"
    proc, base, _ = start_service(t.project_path, workers=2, log=log)
    try:
        wait_for_http(f"{base}/health", proc, timeout=180)
        h = until_health(base, lambda h: h["status"] == "ok" and h["workers_alive"] == 2)
        assert {w["model_version"] for w in h["workers"]} == {v1}

        # before the move: production's version only
        before = asyncio.run(_load(base, 0, PHASE))
        assert _versions(before) == {v1}

        # during: the alias moves (through the CLI) and one worker's capture writer dies
        async def during() -> list:
            load = asyncio.create_task(_load(base, PHASE, PHASE))
            out = await asyncio.to_thread(
                CliRunner().invoke,
                cli,
                ["--project", str(t.project_path), "promote", v2, "--as", "sora"],
            )
            assert out.exit_code == 0, out.output
            victim = next(w for w in _health(base)["workers"] if w["status"] == "ok")
            os.kill(victim["capture"]["writer_pid"], signal.SIGKILL)
            return [victim, await load]

        victim, middle = asyncio.run(during())
        assert _versions(middle) <= {v1, v2}
        # every worker reports the move: from then on only the new version answers
        until_health(base, lambda h: {w["model_version"] for w in h["workers"]} == {v2})
        after = asyncio.run(_load(base, 2 * PHASE, PHASE))
        assert _versions(after) == {v2}

        # the failing worker shows as such whichever worker answers /health
        for _ in range(6):
            h = _health(base)
            assert h["status"] == "degraded", h
            [bad] = [w for w in h["workers"] if w["pid"] == victim["pid"]]
            assert bad["status"] == "degraded" and not bad["capture"]["writer_running"]
        # every answer written, dropped or sampled out, across both workers
        answers = sum(len(b["predictions"]) for _, b, _ in before + middle + after)
        total = until_health(
            base,
            lambda h: (
                h["capture"]["answers"] == answers
                and h["capture"]["written"] + h["capture"]["dropped"] + h["capture"]["sampled_out"]
                == answers
            ),
        )["capture"]
        assert total["dropped"] > 0 and total["written"] > 0 and total["write_errors"] == 0

        # the worker without a writer killed: shown dead, replaced by the supervisor
        os.kill(victim["pid"], signal.SIGKILL)
        h = until_health(
            base,
            lambda h: (
                h["workers_alive"] == 2
                and any(w["pid"] == victim["pid"] and w["status"] == "dead" for w in h["workers"])
                and h["status"] == "ok"
            ),
        )
        assert {w["model_version"] for w in h["workers"] if w["status"] == "ok"} == {v2}
        last = asyncio.run(_load(base, 3 * PHASE, 50))
        assert _versions(last) == {v2}
    except Exception as e:  # what the service said, beside what failed (request logs left out)
        said = [x for x in log.read_text().splitlines() if "/predict" not in x]
        raise AssertionError(f"{e!r}; the service's log ends:\n" + "\n".join(said[-60:])) from e
    finally:
        proc.send_signal(signal.SIGTERM)  # stop accepting, drain capture, exit
        try:
            proc.wait(timeout=120)
        except Exception:
            proc.kill()
            raise
    assert proc.returncode == 0
    # what SIGTERM drained is on disk: everything written before, and the last requests
    rows = read_capture(t.cfg.storage.data_root)
    last_rows = sum(len(b["predictions"]) for _, b, _ in last)
    assert len(rows) == total["written"] + last_rows
    assert rows["request_id"].isin([b["request_id"] for _, b, _ in last]).sum() == last_rows
    # each captured answer carries the version its response said
    said = {b["request_id"]: b["model_version"] for _, b, _ in before + middle + after + last}
    assert (rows["model_version"] == rows["request_id"].map(said)).all()
