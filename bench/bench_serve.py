"""The scoring service's throughput with workers (issue 30): `renkei serve --workers N`
requests/s, p50 and p99 at concurrency 1, 8 and 32, with 1 and 2 workers, beside the same
service of an older checkout (``--before``, one process: what it serves today).

Every service serves the same ledger: a trained model in production with a shadow
challenger attached (answered in the capture writer), capture on, each request 3 rows with
a bearer token. The load comes from Debian's `hey` (a Go client that costs little CPU, as
client and service share the machine's cores; `apt-get install -y hey`). After the
concurrency-32 run it measures the capture lag (answers not yet written when the load
ended, and the seconds until every answer is written, dropped or sampled out) and the
memory (RSS) of each worker and of its capture writer. Goals: 2 workers >= 1.4x the
requests/s of one at concurrency 32; p99 at concurrency 32 <= 0.7x the older service's.

    python bench/bench_serve.py [--requests 2000] [--workers 1,2] [--before /work/main]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_table  # noqa: E402

LEVELS = (1, 8, 32)
ROWS = 3  # rows per request


def _hey(url: str, n: int, c: int, token: str, body: Path) -> dict:
    """One `hey` run: requests/s, p50 and p99 (ms), the status codes."""
    out = subprocess.run(
        ["hey", "-n", str(n), "-c", str(c), "-m", "POST", "-T", "application/json"]
        + ["-H", f"Authorization: Bearer {token}", "-D", str(body), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {int(p): float(s) * 1000 for p, s in re.findall(r"(\d+)%+ in ([\d.]+) secs", out)}
    codes = {int(k): int(v) for k, v in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    return {"rps": rps, "p50": pct[50], "p99": pct[99], "codes": codes}


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


def _memory(pid: int, workers: int) -> tuple[float, float]:
    """Mean RSS (MiB) of a worker and of a capture writer under the service ``pid``."""
    procs = _children(pid) if workers > 1 else [pid]
    servers = [p for p in procs if _children(p)]  # workers have their writer below them
    writers = [w for p in servers for w in _children(p)]
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return mean([_rss_mib(p) for p in servers]), mean([_rss_mib(w) for w in writers])


def _health(base: str) -> dict:
    import httpx

    return httpx.get(f"{base}/health", timeout=30, trust_env=False).json()


def _capture(base: str) -> dict:
    return _health(base)["capture"]


def run_service(
    name: str,
    cmd: list[str],
    cwd: Path,
    env: dict,
    port: int,
    workers: int,
    n: int,
    auth: tuple,
    move: Callable[[], str] | None = None,
) -> dict:
    """Start one service, load it at each concurrency, measure capture lag and memory;
    ``move``: then promote (it returns the version) and time until every worker serves it."""
    import httpx

    token, body = auth
    log = tempfile.NamedTemporaryFile(prefix=f"bench-serve-{name}-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:
            assert proc.poll() is None, f"{name} exited: see {log.name}"
            try:
                h = httpx.get(f"{base}/health", timeout=2, trust_env=False).json()
                if h["status"] == "ok" and h.get("workers_alive", 1) == workers:
                    break
            except httpx.TransportError:
                pass
            assert time.time() < deadline, f"{name} not ready in 300 s: see {log.name}"
            time.sleep(0.5)
        _hey(f"{base}/predict", 200, 8, token, body)  # warm-up
        out: dict = {}
        for c in LEVELS:
            out[c] = _hey(f"{base}/predict", n if c > 1 else n // 4, c, token, body)
            assert set(out[c]["codes"]) == {200}, (name, c, out[c]["codes"])
            if c == LEVELS[-1]:  # capture lag after the heaviest load
                ended, left = time.monotonic(), _capture(base)
                lag = left["answers"] - left["written"] - left["dropped"] - left["sampled_out"]
                while (cap := _capture(base))["written"] + cap["dropped"] + cap[
                    "sampled_out"
                ] < cap["answers"]:
                    time.sleep(0.1)
                out["lag_rows"], out["lag_s"] = lag, time.monotonic() - ended
                out["dropped"] = cap["dropped"]
                out["worker_mib"], out["writer_mib"] = _memory(proc.pid, workers)
        if move is not None:
            began = time.monotonic()
            version = move()
            moved = time.monotonic()
            while {w["model_version"] for w in _health(base)["workers"]} != {version}:
                time.sleep(0.05)
            out["promote_s"], out["switch_s"] = moved - began, time.monotonic() - moved
        return out
    finally:
        proc.terminate()
        proc.wait(120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000, help="per concurrency (1: a quarter)")
    ap.add_argument("--workers", default="1,2", help="worker counts to measure")
    ap.add_argument("--before", type=Path, default=None, help="an older checkout (its .venv)")
    args = ap.parse_args()
    if shutil.which("hey") is None:
        sys.exit("bench_serve needs Debian's `hey`: apt-get update && apt-get install -y hey")

    from shared.release import promote, review
    from shared.release.shadow import attach
    from tests.builders import build
    from tests.conftest import free_port
    from tests.service.test_http import ROW

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        print("training two models to serve (production and its shadow) ...", flush=True)
        (Path(tmp) / "p").mkdir()
        t = build(Path(tmp) / "p", f"sqlite:///{tmp}/ledger.db", runs=2)
        v1, v2 = t.candidates
        review(t.ledger, t.roles, v1, "kenji", "ok", "approve")
        review(t.ledger, t.roles, v1, "yui", "ok", "approve")
        promote(t.ledger, t.roles, t.cfg, t.rules, v1, "production", "sora", "bench", None)
        attach(t.ledger, t.roles, t.cfg, t.rules, v2, "production", "sora", "bench", None)
        body = Path(tmp) / "body.json"
        body.write_text(json.dumps([{**ROW, "order_id": f"b-{i}"} for i in range(ROWS)]))
        auth = (t.ledger.trust.create_token("bench", "bench"), body)
        env = {**os.environ, "RENKEI_LEDGER_URL": f"sqlite:///{tmp}/ledger.db"}
        project = str(t.project_path)
        runs: list[tuple[str, int, dict]] = []
        if args.before is not None:
            port = free_port()
            py = str(args.before / ".venv" / "bin" / "python")
            cmd = [py, "-m", "shared.cli", "--config", project, "serve", "--port", str(port)]
            runs.append(
                (
                    "before",
                    1,
                    # the older checkout is only read (no bytecode written into it)
                    run_service(
                        "before",
                        cmd,
                        args.before,
                        {**env, "PYTHONDONTWRITEBYTECODE": "1"},
                        port,
                        1,
                        args.requests,
                        auth,
                    ),
                )
            )
        counts = [int(x) for x in args.workers.split(",")]

        def move() -> str:  # production to the shadow's version (which detaches the shadow)
            for who in ("kenji", "yui"):
                review(t.ledger, t.roles, v2, who, "ok", "approve")
            promote(t.ledger, t.roles, t.cfg, t.rules, v2, "production", "sora", "bench", None)
            return v2

        for w in counts:
            port = free_port()
            cmd = [sys.executable, "-m", "shared.cli", "--config", project, "serve"]
            cmd += ["--port", str(port), "--workers", str(w)]
            last = move if w == counts[-1] else None
            m = run_service(f"now-{w}", cmd, REPO, env, port, w, args.requests, auth, last)
            runs.append(("now", w, m))
    load1 = os.getloadavg()
    rows = []
    for name, w, m in runs:
        for c in LEVELS:
            r = m[c]
            rows.append(
                [
                    f"{name}, {w} worker{'s' * (w > 1)}",
                    str(c),
                    f"{r['rps']:.0f}",
                    f"{r['p50']:.1f}",
                    f"{r['p99']:.1f}",
                ]
                + (
                    [
                        f"{m['lag_rows']:,} / {m['lag_s']:.1f} s",
                        f"{m['dropped']:,}",
                        f"{m['worker_mib']:.0f} / {m['writer_mib']:.0f}",
                    ]
                    if c == LEVELS[-1]
                    else ["", "", ""]
                )
            )
    now = {w: m for name, w, m in runs if name == "now"}
    verdict = []
    if 1 in now and 2 in now:
        ratio = now[2][32]["rps"] / now[1][32]["rps"]
        verdict.append(f"2 workers / 1 worker requests/s at 32: {ratio:.2f} (goal >= 1.4)")
    before = next((m for name, _, m in runs if name == "before"), None)
    if before is not None and 2 in now:
        ratio = now[2][32]["p99"] / before[32]["p99"]
        verdict.append(f"p99 at 32, 2 workers / before: {ratio:.2f} (goal <= 0.7)")
    for _, w, m in runs:
        if "switch_s" in m:
            verdict.append(
                f"promotion with {w} workers: {m['promote_s']:.1f} s to promote, then every "
                f"worker served the new version {m['switch_s']:.1f} s later"
            )
    title = (
        f"Scoring service with workers: hey, {ROWS} rows per request, a shadow, capture on "
        f"(load {load0[0]:.1f} before, {load1[0]:.1f} after)"
    )
    headers = ["service", "concurrency", "req/s", "p50 ms", "p99 ms"]
    headers += ["capture lag (rows / s)", "dropped", "MiB worker / writer"]
    path = write_table("bench_serve", title, rows, headers)
    with path.open("a") as f:
        f.write("\n" + "\n".join(verdict) + "\n")
    print("\n".join(verdict))


if __name__ == "__main__":
    main()
