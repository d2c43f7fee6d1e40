"""The scoring service as a real process on 127.0.0.1: answers, 422s, per-row decisions on
missing features, hot version switch."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from shared.cli.operate import THREAD_VARS
from shared.release import promote, review
from tests.builders import build
from tests.conftest import REPO, free_port, stop_process, wait_for_http

pytestmark = pytest.mark.slow

ROW = {
    "order_id": "api-1",
    "distance_km": 3.2,
    "prep_minutes": 12.0,
    "hour": 12,
    "weekday": 2,
    "courier_load": 5,
    "rain": True,
    "cuisine": "pizza",
    "zone": "north",
    "basket_size": 3,
}


def _approve_and_promote(t, v: str) -> None:
    review(t.ledger, t.roles, v, "kenji", "ok", "approve")
    review(t.ledger, t.roles, v, "yui", "ok", "approve")
    promote(t.ledger, t.roles, t.cfg, t.rules, v, "production", "sora", "test", "abc")


def start_service(
    project_path: Path, workers: int = 1, log: Path | None = None
) -> tuple[subprocess.Popen, str, int]:
    """`renkei serve --workers N` as a real process on a free port: (process, base URL, port);
    its output goes to ``log`` when given."""
    port = free_port()
    sink = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 (the process holds it)
    proc = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "--config", str(project_path), "serve"]
        + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=REPO,
        # without the tests' own thread settings (tests/conftest.py): the service sets its own
        env={k: v for k, v in os.environ.items() if k not in THREAD_VARS}
        | {"RENKEI_LEDGER_URL": ""},
        stdout=sink,
        stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
    )
    if log:
        sink.close()  # the child has its own descriptor
    return proc, f"http://127.0.0.1:{port}", port


def _parent(proc_dir: Path) -> int | None:
    """The parent pid of the process behind /proc/<pid> (None once it is gone)."""
    try:
        return int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def idle_connection_still_answers(port: int, idle: float) -> bool:
    """One connection: /health, ``idle`` seconds of silence, /health again on the same socket.
    False when the service closed it meanwhile (uvicorn's own keep-alive is 5 s)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", "/health")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        time.sleep(idle)
        try:
            conn.request("GET", "/health")
            again = conn.getresponse()
            again.read()
        except (http.client.RemoteDisconnected, ConnectionError):
            return False
        return conn.sock is sock and again.status == 200
    finally:
        conn.close()


def test_service_answers_refuses_bad_requests_and_picks_up_promotions(tmp_path: Path) -> None:
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)
    v1, v2 = t.candidates
    _approve_and_promote(t, v1)
    proc, base, port = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc, timeout=180)
        # an idle connection stays open past an ALB's 60 s idle timeout (service.
        # keep_alive_seconds, 75): here, past uvicorn's own 5 s
        assert idle_connection_still_answers(port, idle=7)
        # one math thread per process (service.threads), set before any library loads:
        # what the processes the service started (its capture writer) were given
        kids = [c for c in Path("/proc").glob("[0-9]*") if _parent(c) == proc.pid]
        assert kids, "the service started no process (its capture writer)"
        for kid in kids:
            env = (kid / "environ").read_bytes().split(b"\0")
            assert b"OMP_NUM_THREADS=1" in env and b"OPENBLAS_NUM_THREADS=1" in env, kid
        with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
            health = c.get("/health").json()
            assert {k: health[k] for k in ("status", "alias", "model_version")} == {
                "status": "ok",
                "alias": "production",
                "model_version": v1,
            }
            assert "failed" not in health
            assert c.get("/version").json()["rules_version"].startswith("abc+")
            one = c.post("/predict", json=ROW)
            assert one.status_code == 200
            ans = one.json()["predictions"][0]
            assert ans["decision"] == "model" and 10 < ans["prediction"] < 80
            assert ans["model_version"] == v1 and ans["row_id"] == "api-1" and ans["reasons"] == []
            many = c.post(
                "/predict", json=[ROW, {**ROW, "distance_km": 55.0}, {**ROW, "basket_size": 55}]
            ).json()
            assert [p["decision"] for p in many["predictions"]] == ["model", "rejected", "fallback"]
            assert many["predictions"][1]["prediction"] is None
            assert "distance_in_service_area" in many["predictions"][1]["reasons"]
            # a value of the wrong type is that row's problem, not the request's (issue 29)
            bad = c.post("/predict", json=[ROW, {**ROW, "distance_km": "far"}])
            assert bad.status_code == 200, bad.text
            got = [(p["decision"], p["reasons"]) for p in bad.json()["predictions"]]
            assert got == [("model", []), ("rejected", ["schema:distance_km:dtype('float64')"])]
            # a list or an object as a value is no row: 422 naming the field
            nested = c.post("/predict", json={**ROW, "distance_km": {"km": 3}})
            assert nested.status_code == 422
            [err] = nested.json()["detail"]
            assert err["loc"] == ["body", "distance_km"] and "one value" in err["msg"]
            # a missing feature is no 422 (issue 29): the guard decides for that row only
            missing = c.post(
                "/predict",
                json=[ROW, {k: v for k, v in ROW.items() if k != "hour"}, {**ROW, "zone": None}],
            )
            assert missing.status_code == 200, missing.text
            got = [(p["decision"], p["reasons"]) for p in missing.json()["predictions"]]
            assert got == [
                ("model", []),
                ("rejected", ["schema:hour:not_nullable"]),
                ("rejected", ["schema:zone:not_nullable"]),
            ]
            assert (
                c.post(
                    "/predict", content=b"not json", headers={"content-type": "application/json"}
                ).status_code
                == 422
            )
            # promotion is picked up without a restart
            _approve_and_promote(t, v2)
            deadline = time.time() + 120
            while c.get("/version").json()["model_version"] != v2:
                assert time.time() < deadline, "service did not switch to the new version"
                time.sleep(0.2)
            assert c.post("/predict", json=ROW).json()["predictions"][0]["model_version"] == v2
    finally:
        stop_process(proc)
