"""The scoring service's throughput with workers (issue 30): `renkei serve --workers N`
requests/s, p50 and p99 at concurrency 1, 8 and 32, with 1 and 2 workers, beside the same
service of an older checkout (``--before``, one process: what it serves today).

Every service serves the same ledger: a trained model in production with a shadow
challenger attached (answered in the capture writer), capture on, each request 3 rows with
a bearer token. The load comes from Debian's `hey` (a Go client that costs little CPU, as
client and service share the machine's cores; `apt-get install -y hey`). All services run
from the start and are loaded in ``--rounds`` rounds, taking turns (the order rotates), so
load from elsewhere on a shared machine falls on each alike; after each service's turn its
capture is left to catch up before the next one starts. Per service and concurrency:
requests/s (requests over the seconds under load), p50 and p99 over every request of every
round. Capture lag: the answers not yet written when a concurrency-32 turn ended (the
largest of the rounds) and the seconds until every answer was written, dropped or sampled
out. Memory: RSS of each worker and of its capture writer (mean) at the end. Then production
moves to the shadow's version and the seconds until every worker of the last service
answers with it. Goals: 2 workers >= 1.4x the requests/s of one at concurrency 32; p99 at
concurrency 32 <= 0.7x the older service's.

    python bench/bench_serve.py [--requests 2000] [--rounds 4] [--workers 1,2] [--before DIR]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_table  # noqa: E402

LEVELS = (1, 8, 32)
ROWS = 3  # rows per request


@dataclass
class Service:
    name: str
    workers: int
    base: str
    proc: subprocess.Popen
    log: str
    token: str  # a bearer token of the ledger it serves
    samples: dict[int, list[float]] = field(default_factory=lambda: {c: [] for c in LEVELS})
    seconds: dict[int, float] = field(default_factory=lambda: dict.fromkeys(LEVELS, 0.0))
    lag_rows: int = 0
    lag_s: float = 0.0


def _hey(url: str, n: int, c: int, token: str, body: Path) -> tuple[list[float], float]:
    """One `hey` run: each request's seconds, and the run's wall seconds (all must be 200).
    ``n`` is rounded down to a multiple of ``c`` (hey sends n // c per connection)."""
    n = max(c, n // c * c)
    out = subprocess.run(
        ["hey", "-n", str(n), "-c", str(c), "-m", "POST", "-T", "application/json", "-o", "csv"]
        + ["-H", f"Authorization: Bearer {token}", "-D", str(body), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    codes = {r["status-code"] for r in rows}
    assert codes == {"200"} and len(rows) == n, (url, codes, len(rows))
    took = [float(r["response-time"]) for r in rows]
    wall = max(float(r["offset"]) + t for r, t in zip(rows, took, strict=True))
    return took, wall


def _children(pid: int) -> list[int]:
    """The processes ``pid`` spawned through multiprocessing (not its resource tracker)."""
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            spawned = b"spawn_main" in (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and spawned:
            kids.append(int(stat.parent.name))
    return kids


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _memory(s: Service) -> tuple[float, float]:
    """Mean RSS (MiB) of a worker and of a capture writer of the service."""
    procs = _children(s.proc.pid) if s.workers > 1 else [s.proc.pid]
    servers = [p for p in procs if _children(p)]  # workers have their writer below them
    writers = [w for p in servers for w in _children(p)]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return mean([_rss_mib(p) for p in servers]), mean([_rss_mib(w) for w in writers])


def _health(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/health", timeout=30, trust_env=False).json()


def _pending(base: str) -> int:
    c = _health(base)["capture"]
    return c["answers"] - c["written"] - c["dropped"] - c["sampled_out"]


def start(
    name: str, cmd: list[str], cwd: Path, env: dict, port: int, workers: int, token: str
) -> Service:
    log = tempfile.NamedTemporaryFile(prefix=f"bench-serve-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    return Service(name, workers, f"http://127.0.0.1:{port}", proc, log.name, token)


def ready(s: Service) -> None:
    import httpx

    deadline = time.time() + 300
    while True:
        assert s.proc.poll() is None, f"{s.name} exited: see {s.log}"
        try:
            h = _health(s.base)
            if h["status"] == "ok" and h.get("workers_alive", 1) == s.workers:
                return
        except httpx.TransportError:
            pass
        assert time.time() < deadline, f"{s.name} not ready in 300 s: see {s.log}"
        time.sleep(0.5)


def turn(s: Service, n: int, body: Path) -> None:
    """One round's load on ``s`` at each concurrency, then its capture catches up."""
    for c in LEVELS:
        took, wall = _hey(f"{s.base}/predict", n if c > 1 else max(1, n // 4), c, s.token, body)
        s.samples[c] += took
        s.seconds[c] += wall
    ended, lag = time.monotonic(), _pending(s.base)
    while _pending(s.base) > 0:
        time.sleep(0.1)
    if lag >= s.lag_rows:
        s.lag_rows, s.lag_s = lag, time.monotonic() - ended


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="per concurrency (1: a quarter)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--workers", default="1,2", help="worker counts to measure")
    ap.add_argument("--before", type=Path, default=None, help="an older checkout (its .venv)")
    args = ap.parse_args()
    if shutil.which("hey") is None:
        sys.exit("bench_serve needs Debian's `hey`: apt-get update && apt-get install -y hey")

    from bench.serve_state import make
    from shared.release import promote
    from tests.conftest import free_port
    from tests.service.test_http import ROW

    with tempfile.TemporaryDirectory() as tmp:
        print("training two models to serve (production and its shadow) ...", flush=True)
        t, url, token = make(Path(tmp) / "now")
        v2 = t.candidates[1]
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps([{**ROW, "order_id": f"b-{i}"} for i in range(ROWS)]))
        serve = ["-m", "shared.cli", "--config", str(t.project_path), "serve", "--port"]
        services: list[Service] = []
        try:
            if args.before is not None:
                # the older checkout makes what it serves (bundles and ledger its code reads),
                # and is only read (no bytecode written into it)
                py = str(args.before / ".venv" / "bin" / "python")
                old_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
                made = subprocess.run(
                    [py, str(REPO / "bench" / "serve_state.py"), str(Path(tmp) / "before")],
                    cwd=args.before,
                    env=old_env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                old = json.loads(made.stdout.strip().splitlines()[-1])
                port = free_port()
                cmd = [py, *serve[:3], old["project"], *serve[4:], str(port)]
                old_env["RENKEI_LEDGER_URL"] = old["ledger_url"]
                services.append(start("before", cmd, args.before, old_env, port, 1, old["token"]))
            env = {**os.environ, "RENKEI_LEDGER_URL": url}
            for w in (int(x) for x in args.workers.split(",")):
                port = free_port()
                cmd = [sys.executable, *serve, str(port), "--workers", str(w)]
                services.append(start(f"now-{w}", cmd, REPO, env, port, w, token))
            for s in services:
                ready(s)
                _hey(f"{s.base}/predict", 200, 8, s.token, body)  # warm-up
            load0 = os.getloadavg()
            per_round = max(1, args.requests // args.rounds)
            for r in range(args.rounds):
                k = r % len(services)
                for s in services[k:] + services[:k]:
                    print(f"round {r + 1}: {s.name}", flush=True)
                    turn(s, per_round, body)
            load1 = os.getloadavg()
            memory = {s.name: _memory(s) for s in services}
            spread = {  # requests each worker answered (a socket per worker: the kernel's)
                s.name: [w["capture"]["requests"] for w in _health(s.base)["workers"]]
                for s in services
                if s.workers > 1
            }
            last = services[-1]
            began = time.monotonic()
            promote(t.ledger, t.roles, t.cfg, t.rules, v2, "production", "sora", "bench", None)
            moved = time.monotonic()
            while {w["model_version"] for w in _health(last.base)["workers"]} != {v2}:
                time.sleep(0.05)
            switch = (moved - began, time.monotonic() - moved)
        finally:
            for s in services:
                s.proc.terminate()
            for s in services:
                s.proc.wait(120)
    rows, rps, p99 = [], {}, {}
    for s in services:
        label = f"{s.name}, {s.workers} worker{'s' * (s.workers > 1)}"
        for c in LEVELS:
            a = np.asarray(s.samples[c]) * 1000
            rps[s.name, c] = len(a) / s.seconds[c]
            p99[s.name, c] = float(np.percentile(a, 99))
            row = [label, str(c), f"{rps[s.name, c]:.0f}", f"{np.percentile(a, 50):.1f}"]
            row.append(f"{p99[s.name, c]:.1f}")
            if c == LEVELS[-1]:
                mib = memory[s.name]
                row += [f"{s.lag_rows:,} / {s.lag_s:.1f} s", f"{mib[0]:.0f} / {mib[1]:.0f}"]
            else:
                row += ["", ""]
            rows.append(row)
    verdict = []
    if ("now-1", 32) in rps and ("now-2", 32) in rps:
        ratio = rps["now-2", 32] / rps["now-1", 32]
        verdict.append(f"2 workers / 1 worker, requests/s at 32: {ratio:.2f} (goal >= 1.4)")
    if ("before", 32) in p99 and ("now-2", 32) in p99:
        ratio = p99["now-2", 32] / p99["before", 32]
        verdict.append(f"p99 at 32, 2 workers / before: {ratio:.2f} (goal <= 0.7)")
    for name, counts in spread.items():
        verdict.append(f"requests per worker of {name}: {' / '.join(map(str, counts))}")
    verdict.append(
        f"promotion: {switch[0]:.1f} s to promote, then every worker of {last.name} answered "
        f"with the new version {switch[1]:.1f} s later"
    )
    title = (
        f"Scoring service with workers: hey, {ROWS} rows per request, a shadow, capture on, "
        f"{args.rounds} rounds (load {load0[0]:.1f} at the start, {load1[0]:.1f} at the end)"
    )
    headers = ["service", "concurrency", "req/s", "p50 ms", "p99 ms"]
    headers += ["capture lag (rows / s)", "MiB worker / writer"]
    path = write_table("bench_serve", title, rows, headers)
    with path.open("a") as f:
        f.write("\n" + "\n".join(verdict) + "\n")
    print("\n".join(verdict))


if __name__ == "__main__":
    main()
