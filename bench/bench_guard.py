"""Guard benchmarks, each beside its baseline.

1. Guarded vs raw model prediction on 100k rows (goal: ratio <= 1.10).
2. In-process single-row guarded prediction: p50 / p99 (beside the raw model's).
3. HTTP /predict p50 / p99 over a fixed number of requests on loopback, beside a bare
   FastAPI endpoint calling the raw model (both served by uvicorn in their own process, one
   worker), in ``--runs`` runs, the two called in turn request by request (so both see the
   same load on a shared machine). Every request carries `Authorization: Bearer TOKEN` (a
   token made in the bench's ledger), as production clients send it, so the service's token
   check is measured; ``--anonymous`` calls in dev mode without one (the old measure).

    python bench/bench_guard.py [--rows 100000] [--requests 2000] [--runs 3] [--anonymous]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import best_of, write_table  # noqa: E402
from shared.config import load_project, load_rules  # noqa: E402
from shared.data.generator import generate_orders  # noqa: E402
from shared.guard import Envelope  # noqa: E402
from shared.guard.bundle import build_bundle, load_bundle  # noqa: E402
from shared.model.families import Baseline  # noqa: E402
from shared.training import generated_split, train_candidate  # noqa: E402

BARE_APP = """
import sys, pandas as pd
from fastapi import FastAPI, Body
from shared.guard.bundle import load_bundle
g = load_bundle(open(sys.argv[1], "rb").read())
app = FastAPI()
@app.post("/predict")
def predict(payload: dict = Body(...)):
    return {"prediction": float(g.model.predict(pd.DataFrame([payload]))[0])}
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def serve(cmd: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    import httpx

    log = tempfile.NamedTemporaryFile(prefix="bench-serve-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited {proc.returncode}: see {log.name}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1, trust_env=False)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not start within 300 s: see {log.name}")


def http_latency(
    ports: tuple[int, int], body: dict, n: int, headers: dict | None = None
) -> list[tuple[float, float]]:
    """p50 / p99 (ms) of ``n`` requests to each port, the two servers called in turn (which
    goes first alternates), so both see the same load on a shared machine."""
    import httpx

    clients = [
        httpx.Client(base_url=f"http://127.0.0.1:{p}", headers=headers or {}, trust_env=False)
        for p in ports
    ]
    samples: list[list[float]] = [[] for _ in ports]
    try:
        for c in clients:
            for _ in range(20):
                c.post("/predict", json=body)
        for i in range(n):
            for k in (0, 1) if i % 2 == 0 else (1, 0):
                t0 = time.perf_counter()
                r = clients[k].post("/predict", json=body)
                samples[k].append(time.perf_counter() - t0)
                assert r.status_code == 200, r.text
    finally:
        for c in clients:
            c.close()
    return [percentiles(s) for s in samples]


def single_row(fn, arg, n: int = 500) -> tuple[float, float]:
    for _ in range(20):
        fn(arg)
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn(arg)
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3, help="HTTP runs (the goal holds in each)")
    ap.add_argument(
        "--anonymous", action="store_true", help="HTTP without a token (dev mode), as before"
    )
    ap.add_argument(
        "--profile", type=Path, help="run renkei serve under cProfile, its stats written here"
    )
    args = ap.parse_args()
    m = measure(args.rows, args.requests, args.runs, not args.anonymous, args.profile)
    if args.profile:
        import pstats

        pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    result = [
        [f"raw model, {args.rows:,} rows (baseline)", f"{m['raw_ms']:.0f} ms", ""],
        [
            f"guarded model, {args.rows:,} rows",
            f"{m['guarded_ms']:.0f} ms",
            f"ratio {m['guarded_ms'] / m['raw_ms']:.2f}",
        ],
    ]
    for key, label in (
        ("raw", "raw model, one-row frame (baseline)"),
        ("frame", "guarded model, one-row frame"),
        ("records", "guarded model, one row dict (the service's path)"),
    ):
        result.append(
            [
                f"single row in-process, {label}",
                f"p50 {m[key + '_p50']:.2f} ms",
                f"p99 {m[key + '_p99']:.2f} ms",
            ]
        )
    how = "anonymous, dev mode" if args.anonymous else "bearer token"
    for i, r in enumerate(m["http_runs"], 1):
        result.append(
            [
                f"HTTP run {i}, bare FastAPI + raw model, {args.requests} requests (baseline)",
                f"p50 {r['bare_p50']:.2f} ms",
                f"p99 {r['bare_p99']:.2f} ms",
            ]
        )
        result.append(
            [
                f"HTTP run {i}, renkei serve /predict ({how}), {args.requests} requests",
                f"p50 {r['http_p50']:.2f} ms (ratio {r['http_p50'] / r['bare_p50']:.2f})",
                f"p99 {r['http_p99']:.2f} ms (ratio {r['http_p99'] / r['bare_p99']:.2f})",
            ]
        )
    write_table("guard", "Guard: guarded vs raw model", result, ["what", "time", "vs / tail"])
    print("decisions on the batch:", m["decisions"])


def measure(
    rows: int = 100_000,
    requests: int = 2000,
    runs: int = 3,
    token: bool = True,
    profile: Path | None = None,
) -> dict:
    """Guarded vs raw on ``rows`` rows, single-row p50/p99, HTTP p50/p99 (ms) per run in
    ``http_runs``; ``bare_p50``/``http_p50`` (and p99) are the run with the worst ratio.
    ``token``: every HTTP request carries a bearer token made in the bench's ledger."""
    cfg, rules = (
        load_project(REPO / "config" / "project.yaml"),
        load_rules(REPO / "config" / "rules.yaml"),
    )
    print("training a model to guard ...", flush=True)
    split = generated_split(cfg, 20_000, seed=3)
    env = Envelope.learn(split.train, cfg)
    base = Baseline(cfg)
    base.fit(split.train, split.y("train"))
    xgb = train_candidate("xgboost", split, cfg)
    bundle = build_bundle(xgb.files, base.to_files(), cfg, rules, env, "v1", "xgboost", None)
    guarded = load_bundle(bundle)
    batch = generate_orders(rows, seed=9, start="2026-11-01", days=7).orders
    batch = batch.assign(created_at=pd.to_datetime(batch["created_at"]))
    t_raw, _ = best_of(lambda: guarded.model.predict(batch), 3)
    t_guard, out = best_of(lambda: guarded.predict(batch), 3)
    m: dict = {"raw_ms": t_raw * 1000, "guarded_ms": t_guard * 1000}
    m["decisions"] = out["decision"].value_counts().to_dict()
    one = batch.iloc[[0]]
    record = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in one.iloc[0].to_dict().items()
    }
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
    m["raw_p50"], m["raw_p99"] = single_row(guarded.model.predict, one)
    m["frame_p50"], m["frame_p99"] = single_row(guarded.predict, one)
    m["records_p50"], m["records_p99"] = single_row(guarded.predict_records, [record])

    with tempfile.TemporaryDirectory() as tmp:
        from shared.cli.operate import THREAD_VARS
        from shared.config import load_project_set
        from shared.data import storage
        from shared.guard.bundle import describe, digest
        from shared.guard.bundle_sign import sign_bundle, signature_uri
        from shared.ledger import Ledger, NewDeployment
        from shared.trust.release_key import release_signer
        from tests.conftest import free_port

        bpath = Path(tmp) / "bundle.zip"
        bpath.write_bytes(bundle)
        # signed as a promotion signs it, with the key the service (run in the repository,
        # on config/'s project) trusts: its dev-mode key under the data root
        roles = load_project_set(REPO / "config" / "project.yaml").roles
        signer = release_signer(roles.identity, str(REPO / cfg.storage.data_root))
        Path(signature_uri(str(bpath))).write_bytes(sign_bundle(bundle, signer.private_pem))
        url = f"sqlite:///{tmp}/l.db"
        ledger = Ledger.open(url, create=True)
        # a ledger whose production alias points at the bundle (as a promotion would leave it)
        ledger.registry.register(
            "bench/1", "bench/1", [_reg(xgb, cfg)], [], "bench", None, None, cfg.config_hash()
        )
        ledger.releases.move_alias(
            "production",
            "v1",
            "bench",
            "bench",
            "promote",
            deployment=NewDeployment(
                rules_hash=rules.rules_hash(),
                rules_version=describe(bundle)["rules_version"],
                code_commit=None,
                bundle_uri=str(bpath),
                bundle_sha256=digest(bundle),
                created_by="bench",
            ),
        )
        assert storage.exists(str(bpath))
        body = record
        headers = {"Authorization": f"Bearer {ledger.trust.create_token('bench', 'bench')}"}
        if not token:
            headers = {}
        penv = {**os.environ, "RENKEI_LEDGER_URL": url}
        p1, p2 = free_port(), free_port()
        app_file = Path(tmp) / "bare_app.py"
        app_file.write_text(BARE_APP)
        prof = ["-m", "cProfile", "-o", str(profile.resolve())] if profile else []
        guarded_srv = serve(
            [
                sys.executable,
                *prof,
                "-m",
                "shared.cli",
                "--ledger",
                url,
                "serve",
                "--workers",
                "1",
                "--port",
                str(p1),
            ],
            p1,
            penv,
        )
        bare_srv = serve(
            [
                sys.executable,
                "-c",
                f"import sys; sys.argv=['x', {str(bpath)!r}]; sys.path.insert(0, {tmp!r}); "
                f"import uvicorn, bare_app; uvicorn.run(bare_app.app, host='127.0.0.1', port={p2}, log_level='warning')",
            ],
            p2,
            # the math threads renkei serve gives its workers (service.threads), so that the
            # ratio is the service's own work per request, not a thread setting
            {**penv, **dict.fromkeys(THREAD_VARS, str(cfg.service.threads))},
        )
        try:
            m["http_runs"] = []
            for _ in range(runs):
                r: dict = {}
                bare, renkei = http_latency((p2, p1), body, requests, headers)
                r["bare_p50"], r["bare_p99"] = bare
                r["http_p50"], r["http_p99"] = renkei
                m["http_runs"].append(r)
            for q in ("p50", "p99"):
                worst = max(m["http_runs"], key=lambda r, q=q: r[f"http_{q}"] / r[f"bare_{q}"])
                m[f"bare_{q}"], m[f"http_{q}"] = worst[f"bare_{q}"], worst[f"http_{q}"]
        finally:
            for s in (guarded_srv, bare_srv):
                # uvicorn re-raises the signal it stopped on: after SIGINT cProfile still writes
                s.send_signal(signal.SIGINT if profile and s is guarded_srv else signal.SIGTERM)
                s.wait(60)
    return m


def _reg(c, cfg):
    from shared.ledger import ModelRegistration

    return ModelRegistration(
        "xgboost", "candidate", cfg.training.key_metric, c.metrics, c.slices, [], c.metrics, "", {}
    )


if __name__ == "__main__":
    main()
