"""Online capture's cost: `renkei serve` HTTP /predict p50 / p99 with capture on beside the
same service with capture off (goal: p99 on <= 1.1x off), in one run on the same machine.

Both services serve the same promoted model from the same ledger (each its own process and
data root); requests alternate between them in rounds, so load on the machine hits both
alike. Afterwards the capture counts say every answer was written (none dropped).

    python bench/bench_capture.py [--requests 2000] [--rounds 10] [--shadow] [--control]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_guard import serve  # noqa: E402
from bench.common import write_table  # noqa: E402


def _project_copy(src: Path, dest: Path, enabled: bool) -> Path:
    """A copy of the project folder whose capture is on or off, with its own data root."""
    shutil.copytree(src.parent, dest)
    path = dest / src.name
    data = yaml.safe_load(path.read_text())
    data["capture"] = {**data.get("capture", {}), "enabled": enabled}
    data["storage"]["data_root"] = str(dest / "data")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def measure(
    requests: int = 2000, rounds: int = 10, control: bool = False, shadow: bool = False
) -> dict:
    """p50/p99 of both services; ``control``: both with capture off (the noise floor);
    ``shadow``: a challenger attached beside production (answered where capture is on)."""
    import httpx

    from shared.release import promote, review
    from shared.release.shadow import attach
    from tests.builders import build
    from tests.conftest import free_port
    from tests.service.test_http import ROW

    with tempfile.TemporaryDirectory() as tmp:
        print("training a model to serve ...", flush=True)
        (Path(tmp) / "p").mkdir()
        t = build(Path(tmp) / "p", f"sqlite:///{tmp}/ledger.db", runs=2 if shadow else 1)
        v = t.candidates[0]
        review(t.ledger, t.roles, v, "kenji", "ok", "approve")
        review(t.ledger, t.roles, v, "yui", "ok", "approve")
        promote(t.ledger, t.roles, t.cfg, t.rules, v, "production", "sora", "bench", None)
        if shadow:
            challenger = t.candidates[1]
            attach(
                t.ledger, t.roles, t.cfg, t.rules, challenger, "production", "sora", "bench", None
            )
        env = {**os.environ, "RENKEI_LEDGER_URL": f"sqlite:///{tmp}/ledger.db"}
        servers, ports = [], {}
        for name, enabled in (("on", not control), ("off", False)):
            path = _project_copy(t.project_path, Path(tmp) / name, enabled)
            port = free_port()
            cmd = [sys.executable, "-m", "shared.cli", "--config", str(path), "serve"]
            servers.append(serve([*cmd, "--port", str(port)], port, env))
            ports[name] = port
        samples: dict[str, list[float]] = {"on": [], "off": []}
        try:
            clients = {
                k: httpx.Client(base_url=f"http://127.0.0.1:{p}", trust_env=False)
                for k, p in ports.items()
            }
            for c in clients.values():
                for _ in range(50):
                    c.post("/predict", json=ROW)
            per_round = max(1, requests // rounds)
            for r in range(rounds):
                order = ("on", "off") if r % 2 == 0 else ("off", "on")
                for name in order:
                    c = clients[name]
                    for _ in range(per_round):
                        t0 = time.perf_counter()
                        reply = c.post("/predict", json=ROW)
                        samples[name].append(time.perf_counter() - t0)
                        assert reply.status_code == 200
            deadline = time.time() + 60
            while not control:
                counts = clients["on"].get("/health").json()["capture"]
                if counts["written"] + counts["dropped"] >= counts["answers"]:
                    break
                assert time.time() < deadline, counts
                time.sleep(0.2)
            for c in clients.values():
                c.close()
        finally:
            for s in servers:
                s.terminate()
                s.wait(10)
    m: dict = {"counts": None if control else counts}
    for name, xs in samples.items():
        a = np.asarray(xs) * 1000
        m[f"{name}_p50"], m[f"{name}_p99"] = (
            float(np.percentile(a, 50)),
            float(np.percentile(a, 99)),
        )
    return m


def _rows(m: dict, label: str = "", goal: str = "") -> list[list[str]]:
    """Table rows of one measure: p50, p99 (with ``goal``) and, with capture on, the counts."""
    rows = []
    for q in ("p50", "p99"):
        a, b = m[f"on_{q}"], m[f"off_{q}"]
        rows.append(
            [f"{label}{q} (ms)", f"{a:.2f}", f"{b:.2f}", f"{a / b:.2f}", goal * (q == "p99")]
        )
    if (c := m["counts"]) is not None:
        done = f"{c['written']:,} / {c['dropped']:,}"
        rows.append([f"{label}answers captured / dropped", done, "-", "", "0 dropped"])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument(
        "--shadow",
        action="store_true",
        help="also measure with a shadow challenger attached (answered in the writer process)",
    )
    ap.add_argument(
        "--control",
        action="store_true",
        help="also measure two services with capture off side by side: the noise floor",
    )
    args = ap.parse_args()
    m = measure(args.requests, args.rounds)
    ratio = m["on_p99"] / m["off_p99"]
    rows = _rows(m, goal="<= 1.10")
    if args.shadow:
        rows += _rows(measure(args.requests, args.rounds, shadow=True), "with a shadow: ")
    if args.control:
        rows += _rows(measure(args.requests, args.rounds, control=True), "control, both off: ")
    load = os.getloadavg()[0]
    write_table(
        "bench_capture",
        f"Online capture: HTTP /predict with capture on vs off (load {load:.1f})",
        rows,
        ["measure", "capture on", "capture off", "ratio", "goal"],
    )
    print("PASS" if ratio <= 1.10 and m["counts"]["dropped"] == 0 else "FAIL: goal missed")


if __name__ == "__main__":
    main()
