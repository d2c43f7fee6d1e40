"""Fault injection in one place: swapped, edited and truncated bundles, rollbacks onto what
was refused, a failed reload, bad and huge requests, failing and killed flows, mistyped and
read-only ledgers, a full disk. Each test goes through the path users run (library calls
the CLI and app make, the CLI, the flows through Metaflow, the service over HTTP)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shared.config import load_project
from shared.data import storage
from shared.guard.bundle import BundleError, load_deployed
from shared.ledger import Ledger, LedgerError, NewDeployment
from shared.release import ReleaseRefused, load_alias, promote, review, rollback
from tests.builders import build
from tests.conftest import REPO, need, stop_process, wait_for_http, write_project
from tests.flows.helpers import INGEST, SCORE, cli_run, run_flow
from tests.service.test_http import ROW, start_service

pytestmark = pytest.mark.slow


def _release(t, v: str, alias: str = "production"):
    if alias == "production":
        review(t.ledger, t.roles, v, "kenji", "ok", "approve")
        review(t.ledger, t.roles, v, "yui", "ok", "approve")
    return promote(t.ledger, t.roles, t.cfg, t.rules, v, alias, "sora", "test", "abc")


def _renkei(t, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.cli", "--config", str(t.project_path), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        timeout=120,
    )


def _one_line_error(p: subprocess.CompletedProcess) -> str:
    assert p.returncode != 0, p.stdout
    assert "Traceback" not in p.stdout + p.stderr, p.stderr
    lines = [x for x in p.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, p.stderr
    return lines[0]


@pytest.fixture
def trained(tmp_path: Path):
    return build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=2)


# -- 1. bundles: content-addressed, immutable, verified at every load ---------------------
def test_promotions_never_rewrite_a_deployed_bundle(trained) -> None:
    t = trained
    v1, _ = t.candidates
    _release(t, v1)
    prod = t.ledger.releases.alias("production")
    before = storage.read_bytes(prod.bundle_uri)
    # promote the same version to staging with an edited project config (a stricter range)
    data = t.cfg.model_dump(mode="json")
    data["features"]["distance_km"]["max"] = 5.0
    edited = type(t.cfg).model_validate(data)
    promote(t.ledger, t.roles, edited, t.rules, v1, "staging", "sora", "edited", "abc")
    stage = t.ledger.releases.alias("staging")
    assert stage.bundle_uri != prod.bundle_uri and stage.bundle_sha256 != prod.bundle_sha256
    assert storage.read_bytes(prod.bundle_uri) == before  # production's bytes untouched
    far = pd.DataFrame([{**ROW, "distance_km": 8.0, "created_at": "2026-11-01T12:00:00"}])
    assert load_alias(t.ledger, keys=t.keys)[1].predict(far).iloc[0].decision != "rejected"
    staged = load_deployed(stage, t.keys).predict(far).iloc[0]
    assert staged.decision in ("rejected", "fallback")  # the edited config holds only there
    # a refused promotion writes nothing
    files = sorted(Path(t.cfg.storage.data_root, "bundles").iterdir())
    with pytest.raises(ReleaseRefused):
        promote(t.ledger, t.roles, t.cfg, t.rules, v1, "production", "emi", "x", "abc")
    assert sorted(Path(t.cfg.storage.data_root, "bundles").iterdir()) == files


def test_swapped_edited_and_truncated_bundles_are_refused_at_every_load(trained) -> None:
    t = trained
    v1, v2 = t.candidates
    _release(t, v2, "staging")
    _release(t, v1)
    prod, other = t.ledger.releases.alias("production"), t.ledger.releases.alias("staging")
    good = storage.read_bytes(prod.bundle_uri)
    tampered = {
        "swapped": storage.read_bytes(other.bundle_uri),
        "edited": good[:200] + bytes([good[200] ^ 1]) + good[201:],
        "truncated": good[: len(good) // 2],
    }
    for name, data in tampered.items():
        Path(prod.bundle_uri).write_bytes(data)
        # the app's and the train flow's path (load_alias), the score flow's (load_deployed)
        for load in (
            lambda: load_alias(t.ledger, keys=t.keys),
            lambda: load_deployed(prod, t.keys),
        ):
            with pytest.raises(BundleError) as e:
                load()
            msg = str(e.value)
            assert "\n" not in msg and prod.bundle_sha256[:12] in msg, (name, msg)
            assert f"deployment {prod.id} ({v1}" in msg
    # the score flow refuses too, and its run ends failed in one line
    Path(prod.bundle_uri).write_bytes(tampered["swapped"])
    p = cli_run(SCORE, "--config", "project", str(t.project_path), "run", "--rows", "300")
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "refusing to load it" in out and "Internal error" not in out
    assert t.ledger.runs.all()[-1].status == "failed"
    assert t.ledger.operations.scoring_batches() == []
    # a manifest naming another version than the deployment is refused naming both
    Path(prod.bundle_uri).write_bytes(good)
    with Ledger.open(t.ledger.url).engine.begin() as c:
        from sqlalchemy import text

        c.execute(
            text("update deployments set rules_version = 'x+y' where id = :i"), {"i": prod.id}
        )
    with pytest.raises(BundleError, match=r"manifest says model .* rules abc\+.*deployment says"):
        load_alias(t.ledger, keys=t.keys)


# -- 2. rollback through the release rules; the service keeps the last good one ----------
def test_rollback_onto_a_corrupt_bundle_or_a_rejected_version_is_refused(trained) -> None:
    t = trained
    v1, v2 = t.candidates
    _release(t, v1)
    first = t.ledger.releases.alias("production")
    _release(t, v2)
    good = storage.read_bytes(first.bundle_uri)
    Path(first.bundle_uri).write_bytes(good[:-10])
    line = _one_line_error(_renkei(t, "rollback", "--as", "sora"))
    assert "bundle_verified" in line and "truncated" in line
    assert t.ledger.releases.alias("production").version == v2
    Path(first.bundle_uri).write_bytes(good)
    review(t.ledger, t.roles, v1, "yui", "north zone errors too high after all", "reject")
    with pytest.raises(ReleaseRefused) as e:
        rollback(t.ledger, t.roles, "sora", keys=t.keys)
    assert e.value.rule == "rejected_in_review"
    assert t.ledger.releases.alias("production").version == v2


def _raw_post(port: int, headers: dict[str, str], body: bytes) -> tuple[int, str, float]:
    """POST over a bare socket (the body may be cut short): status line, body, seconds."""
    head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) == 0:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    took = time.perf_counter() - t0
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1].decode(errors="replace"), took


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_service_degrades_on_a_failed_reload_and_refuses_bad_requests(trained) -> None:
    t = trained
    v1, v2 = t.candidates
    _release(t, v1)
    staged = _release(t, v2, "staging")
    proc, base, port = start_service(t.project_path)
    try:
        wait_for_http(f"{base}/health", proc)
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            assert c.get("/health").json()["status"] == "ok"
            # production moves onto a deployment whose bundle is corrupt
            dep = t.ledger.releases.deployment(staged.deployment_id)
            broken = Path(dep.bundle_uri).with_name("broken.zip")
            broken.write_bytes(storage.read_bytes(dep.bundle_uri)[:1000])
            t.ledger.releases.move_alias(
                "production",
                v2,
                "sora",
                "fault",
                "promote",
                deployment=NewDeployment(
                    rules_hash=dep.rules_hash,
                    rules_version=dep.rules_version,
                    code_commit=dep.code_commit,
                    bundle_uri=str(broken),
                    bundle_sha256=dep.bundle_sha256,
                    created_by="sora",
                ),
            )
            deadline = time.time() + 30
            while (health := c.get("/health").json())["status"] != "degraded":
                assert time.time() < deadline, health
                time.sleep(0.2)
            assert health["model_version"] == v1
            assert health["failed"]["model_version"] == v2
            assert "truncated" in health["failed"]["reason"]
            version = c.get("/version")
            assert version.status_code == 200 and version.json()["model_version"] == v1
            assert version.json()["status"] == "degraded"
            ans = c.post("/predict", json=ROW)
            assert ans.status_code == 200 and ans.json()["model_version"] == v1

            # 3. bad input: 422 naming the field, never 500
            row = json.dumps(ROW)
            for bad in ("NaN", "Infinity", "-Infinity", "1e400"):
                r = c.post(
                    "/predict",
                    content=row.replace("3.2", bad).encode(),
                    headers={"content-type": "application/json"},
                )
                assert r.status_code == 422, (bad, r.text)
                assert r.json()["detail"][0]["loc"] == ["body", "distance_km"]
            for body, loc in (([], ["body"]), ("a row", ["body"]), ([1, 2], ["body", 0])):
                r = c.post("/predict", json=body)
                assert r.status_code == 422, (body, r.text)
                assert r.json()["detail"][0]["loc"] == loc
            r = c.post("/predict", json=[ROW, {**ROW, "hour": [1]}])
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", 1, "hour"]
            # 413 with the limits: too many rows, too many bytes
            r = c.post("/predict", json=[ROW] * 1001)
            assert r.status_code == 413 and "at most 1,000" in r.json()["detail"]
            r = c.post("/predict", json={**ROW, "pad": "x" * 1_100_000})
            assert r.status_code == 413 and "1,048,576 bytes" in r.json()["detail"]
        # a 1,000,000-row request: refused from its size, in under a second, memory unchanged
        rss = _rss_kb(proc.pid)
        body = b"[" + b",".join([json.dumps(ROW).encode()] * 1_000_000) + b"]"
        status, text, took = _raw_post(port, {"content-length": str(len(body))}, body[:65536])
        assert status == 413 and "max_body_bytes" in text and took < 1.0, (status, took)
        assert _rss_kb(proc.pid) - rss < 20_000
        with httpx.Client(base_url=base, timeout=10, trust_env=False) as c:
            assert c.get("/health").json()["model_version"] == v1
    finally:
        stop_process(proc)


# -- 4. flows: every failure leaves the run `failed`; temporary files removed -------------
def test_failing_flows_are_recorded_failed_in_one_line(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    cfg = load_project(project)
    ledger = Ledger.open(cfg.storage.ledger_url)
    # a storage error (the data folder cannot be written) in the validate step
    root = Path(cfg.storage.data_root)
    (root / "datasets").mkdir(parents=True)
    need(shutil.which("chattr") is not None, "chattr not installed")
    if subprocess.run(["chattr", "+i", str(root / "datasets")]).returncode != 0:
        need(False, "the file system does not support chattr +i")
    try:
        _, status, stdout, stderr = run_flow(INGEST, project, rows=300)
    finally:
        subprocess.run(["chattr", "-i", str(root / "datasets")], check=True)
    assert status == "failed"
    assert "Operation not permitted" in stdout + stderr
    assert "Internal error" not in stdout + stderr
    [run] = ledger.runs.all()
    assert run.status == "failed" and "Operation not permitted" in run.error
    assert list((root / "datasets").iterdir()) == []


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("term", "stopped by signal SIGTERM"), ("bug", "injected bug at validate")],
)
def test_stopped_or_crashing_flows_are_recorded_failed(
    tmp_path: Path, fault: str, reason: str
) -> None:
    project = write_project(tmp_path)
    _, status, _, _ = run_flow(
        INGEST, project, env={"RENKEI_INJECT_FAULT": f"validate-{fault}"}, rows=300
    )
    assert status == "failed"
    [run] = Ledger.open(load_project(project).storage.ledger_url).runs.all()
    assert run.status == "failed" and reason in run.error


def test_a_full_disk_leaves_no_temporary_file(tmp_path: Path) -> None:
    # a process whose files may not grow past 4 KiB: the write fails half way, as on a full disk
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from shared.data import storage\n"
        "try:\n"
        "    storage.write_bytes(sys.argv[1], b'x' * 100_000)\n"
        "except OSError as e:\n"
        "    print('refused:', e)\n"
    )
    target = tmp_path / "out" / "big.bin"
    p = subprocess.run(
        [sys.executable, "-c", code, str(target)], capture_output=True, text=True, cwd=REPO
    )
    assert "refused:" in p.stdout and "File too large" in p.stdout, p.stdout + p.stderr
    assert list(target.parent.iterdir()) == []


# -- 5. ledgers: never created by accident; read-only ones give one line -----------------
def test_a_mistyped_ledger_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    wrong = tmp_path / "no" / "such" / "dir" / "x.db"
    url = f"sqlite:///{wrong}"
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--ledger", url, "datasets"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    line = _one_line_error(p)
    assert "no ledger at" in line and "renkei db upgrade" in line
    assert not (tmp_path / "no").exists()
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger.open(url)
    # a flow pointed at it refuses in one line too, creating nothing
    p = cli_run(INGEST, "--config", "project", str(project), "run", env={"RENKEI_LEDGER_URL": url})
    assert p.returncode != 0 and "no ledger at" in p.stdout + p.stderr
    assert "Internal error" not in p.stdout + p.stderr
    assert not (tmp_path / "no").exists()
    # `renkei db upgrade` is the one command that creates it
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--ledger", url, "db", "upgrade"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert p.returncode == 0 and wrong.is_file()


def test_a_read_only_ledger_is_one_line_and_debug_shows_the_traceback(trained) -> None:
    t = trained
    v1, _ = t.candidates
    db = Path(t.cfg.storage.ledger_url.removeprefix("sqlite:///"))
    t.ledger.close()
    need(shutil.which("chattr") is not None, "chattr not installed")
    if subprocess.run(["chattr", "+i", str(db)]).returncode != 0:
        need(False, "the file system does not support chattr +i")
    try:
        line = _one_line_error(_renkei(t, "approve", v1, "--as", "kenji", "--comment", "ok"))
        assert "read-only" in line
        p = _renkei(t, "--debug", "approve", v1, "--as", "kenji", "--comment", "ok")
        assert p.returncode != 0 and "Traceback" in p.stderr
    finally:
        subprocess.run(["chattr", "-i", str(db)], check=True)


# -- 7. kill -9 after the dataset record, then resume: one report, one quarantine ---------
def test_kill_after_the_dataset_record_then_resume_leaves_one_report(tmp_path: Path) -> None:
    project = write_project(tmp_path)
    first, status, _, _ = run_flow(
        INGEST, project, env={"RENKEI_INJECT_FAULT": "validate-kill"}, rows=500
    )
    assert status == "failed"
    ledger = Ledger.open(load_project(project).storage.ledger_url)
    [report] = ledger.datasets.reports()
    quarantined = ledger.datasets.quarantine(report.dataset_version).rows_quarantined
    p = cli_run(INGEST, "resume", "--origin-run-id", first.id)
    assert p.returncode == 0, p.stdout + p.stderr
    assert len(ledger.datasets.reports()) == 1 and len(ledger.datasets.all()) == 1
    assert ledger.datasets.quarantine(report.dataset_version).rows_quarantined == quarantined
    assert [r.status for r in ledger.runs.all()] == ["succeeded"]


def test_a_config_error_ends_a_flow_in_one_line_not_an_internal_error(tmp_path: Path) -> None:
    project = write_project(tmp_path, validation__min_valid_fraction=7)
    p = cli_run(INGEST, "--config", "project", str(project), "run")
    out = p.stdout + p.stderr
    assert p.returncode != 0 and "Internal error" not in out and "Traceback" not in out
    assert f"{project}: field 'validation.min_valid_fraction'" in out
