"""Shared fixtures: an isolated project config per test and a real PostgreSQL server.

Tests that need PostgreSQL (or, later, Chromium) skip with the reason when it is absent,
unless RENKEI_REQUIRE_SERVICES=1 (set by .ci/run), which turns every such skip into a failure.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

# Each test process (each pytest-xdist worker) its own Metaflow datastore and local metadata,
# never the repository's .metaflow/: the flows tests start inherit it through the
# environment (Runner, `python flows/...`, the monitor's retrain), and Metaflow's Client in
# this process reads it too, so it is set before anything imports Metaflow.
assert "metaflow" not in sys.modules, "tests/conftest.py must run before Metaflow is imported"
METAFLOW_ROOT = tempfile.mkdtemp(prefix=f"renkei-metaflow-{os.getpid()}-")
os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"] = METAFLOW_ROOT
atexit.register(shutil.rmtree, METAFLOW_ROOT, ignore_errors=True)
# ... one math thread (OpenMP for XGBoost and torch, BLAS): pytest-xdist runs one process per
# core, and a pool per process as wide as the machine oversubscribes the cores (the scoring
# service measured 2 processes at 0.55x one with the libraries' defaults); set before torch
# loads (pytest_configure), inherited by the flows and servers the tests start
if os.environ.get("PYTEST_XDIST_WORKER"):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
# ... and its own home folder: a key one test (or an earlier demo) left in ~/.renkei/keys is
# never what another test reads out of dev mode, and no test writes to the real home
HOME = tempfile.mkdtemp(prefix=f"renkei-home-{os.getpid()}-")
os.environ["HOME"] = HOME
atexit.register(shutil.rmtree, HOME, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    """Import torch and xgboost in the test process before Metaflow's Runner is imported
    in-process: it loads Metaflow's vendored typing_extensions, which breaks these imports
    later. Here, not at module level, so processes that only import the test helpers (the
    racing promotions spawn four) don't pay for them."""
    import torch._dynamo  # noqa: F401
    import xgboost  # noqa: F401


REPO = Path(__file__).resolve().parents[1]

REQUIRE_SERVICES = os.environ.get("RENKEI_REQUIRE_SERVICES") == "1"
# Metaflow refuses to run as root without a user name (CI and sessions run as root)
os.environ.setdefault("METAFLOW_USER", "renkei-test")


def need(condition: bool, reason: str) -> None:
    """Skip (or, under RENKEI_REQUIRE_SERVICES=1, fail) when a service is missing."""
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FAST_TRAINING = {
    "training__xgboost__n_estimators": 150,
    "training__torch_mlp__epochs": 20,
    "training__torch_mlp__patience": 4,
}


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a server this test started, by its pid: SIGTERM, then SIGKILL if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def until_health(base: str, ok: Callable[[dict], bool], timeout: float = 180) -> dict:
    """Poll ``base``/health (a fresh connection each time: whichever worker accepts it
    answers) until ``ok``; a connection the kernel had queued on a worker's socket when that
    worker died is reset (its replacement binds a new socket): poll again."""
    import httpx

    deadline = time.time() + timeout
    h: dict = {}
    while True:
        try:
            h = httpx.get(f"{base}/health", timeout=30, trust_env=False).json()
            if ok(h):
                return h
        except httpx.TransportError as e:
            h = {"transport_error": repr(e)}
        assert time.time() < deadline, h
        time.sleep(0.2)


def wait_for_http(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """Wait until ``url`` answers (any status below 500); fail if the server died first."""
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1, trust_env=False).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_process(proc)
    pytest.fail(f"{url} did not answer within {timeout:.0f} s")


def write_project(tmp: Path, base: dict | None = None, **overrides: object) -> Path:
    """A project folder in ``tmp``: a copy of config/project.yaml (or ``base``) with data
    root and ledger under ``tmp``, and config/'s rules, roles and costs files beside it
    (unless ``tmp`` already has them).

    Overrides use ``section__field`` keys, nested as deep as needed.
    """
    for name in ("rules.yaml", "roles.yaml", "costs.yaml"):
        if not (tmp / name).exists():
            shutil.copyfile(REPO / "config" / name, tmp / name)
    data = base or yaml.safe_load((REPO / "config" / "project.yaml").read_text())
    data["storage"] = {
        "data_root": str(tmp / "data"),
        "ledger_url": f"sqlite:///{tmp / 'ledger.db'}",
    }
    for key, value in overrides.items():
        *path, field = key.split("__")
        node = data
        for part in path:
            node = node.setdefault(part, {})
        node[field] = value
    path = tmp / "project.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    create_ledger(data["storage"]["ledger_url"])
    return path


def create_ledger(url: str) -> str:
    """Create the ledger at ``url`` as `renkei db upgrade` does (opening never creates one)."""
    from shared.ledger import Ledger

    Ledger.open(url, create=True).close()
    return url


@pytest.fixture
def project_path(tmp_path: Path) -> Path:
    return write_project(tmp_path)


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 (free port), stopped by pid at the end."""
    bindir = _pg_bin()
    need(
        bindir is not None, "PostgreSQL server binaries not installed (apt-get install postgresql)"
    )
    assert bindir is not None
    # not under pytest's tmp dir: that is private to root, and the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="renkei-pg-"))
    os.chmod(root, 0o755)
    datadir, sockdir = root / "data", root / "sock"
    sockdir.mkdir()
    user = None
    if os.geteuid() == 0:  # initdb and postgres refuse to run as root
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            need(False, "no 'postgres' system user to run the server as")
        shutil.chown(root, user)
        shutil.chown(sockdir, user)
    init = subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ],
        capture_output=True,
        text=True,
        user=user,
    )
    if init.returncode != 0:
        pytest.fail(f"initdb failed: {init.stderr.strip()}")
    port = free_port()
    proc = subprocess.Popen(
        [
            str(bindir / "postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(sockdir),
            "-c",
            "fsync=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        user=user,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        r = subprocess.run(
            [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)], capture_output=True
        )
        if r.returncode == 0:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("PostgreSQL did not start within 30 s")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        # SIGINT: PostgreSQL's fast shutdown (clients disconnected, their work rolled back):
        # the data is thrown away next, and the smart shutdown SIGTERM asks for waits until
        # every client left (20 s at a worker's end when a connection pool lingered)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def fresh_pg_url(postgres_url: str) -> Iterator[str]:
    """A new, empty database on the session's server for one test."""
    import psycopg

    name = f"t{os.getpid()}_{time.time_ns()}"
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each ledger test runs on SQLite and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return create_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    return create_ledger(request.getfixturevalue("fresh_pg_url"))
