"""What an explanation costs: /predict?explain=true beside plain /predict (its baseline).

For each learned family (XGBoost: native pred_contribs; the MLP: integrated gradients of
shared.model.explain.MLP_STEPS steps), a bundle is deployed as production in a temporary
ledger and the scoring service (shared.operate.service.create_app, the app `renkei serve`
runs in each worker) answers in process through FastAPI's TestClient, with a bearer token;
plain and explained requests alternate request by request, so both see the same load.
One-row and 100-row requests; p50 and p99 per request, and the ratio explained / plain.

    python bench/bench_explain.py [--requests 300] [--train-rows 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.common import write_table  # noqa: E402
from shared.config import ProjectConfig, load_project, load_rules  # noqa: E402
from shared.config.identity import IdentitySettings  # noqa: E402
from shared.data.generator import generate_orders  # noqa: E402
from shared.guard import Envelope  # noqa: E402
from shared.guard.bundle import build_bundle, describe, digest  # noqa: E402
from shared.model.families import Baseline  # noqa: E402
from shared.training import generated_split, train_candidate  # noqa: E402

# dev mode: the release key made under the bench's own data root, and trusted there
DEV = IdentitySettings(dev_mode=True)


def body(n: int) -> list[dict]:
    rows = generate_orders(n, seed=9, start="2026-11-01", days=7).orders.drop(
        columns=["created_at"]
    )
    return [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]


def ms(samples: list[float]) -> tuple[float, float]:
    a = np.asarray(samples) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 99))


def deploy(tmp: str, cfg: ProjectConfig, bundle: bytes, cand, rules) -> tuple[str, str]:
    """A ledger whose production alias points at ``bundle`` (as a promotion leaves it: stored
    under its sha256 with the release key's signature beside it; the service verifies both)."""
    from shared.data import storage
    from shared.guard.bundle import bundle_uri
    from shared.guard.bundle_sign import sign_bundle, signature_uri
    from shared.ledger import Ledger, ModelRegistration, NewDeployment
    from shared.release.promotion import signer_of

    signer = signer_of(DEV, cfg.storage.data_root)  # dev mode: made on first use
    path = bundle_uri(cfg.storage.data_root, describe(bundle)["model_version"], digest(bundle))
    storage.write_once(path, bundle)
    storage.write_once(signature_uri(path), sign_bundle(bundle, signer.private_pem))
    url = f"sqlite:///{tmp}/l.db"
    ledger = Ledger.open(url, create=True)
    reg = ModelRegistration(
        cand.family, "candidate", cfg.training.key_metric, cand.metrics, cand.slices, [],
        cand.metrics, "", {},
    )  # fmt: skip
    ledger.registry.register(
        "bench/1", "bench/1", [reg], [], "bench", None, None, cfg.config_hash()
    )
    version = describe(bundle)["model_version"]
    ledger.releases.move_alias(
        "production", version, "bench", "bench", "promote",
        deployment=NewDeployment(
            rules_hash=rules.rules_hash(), rules_version=describe(bundle)["rules_version"],
            code_commit=None, bundle_uri=str(path), bundle_sha256=digest(bundle),
            created_by="bench",
        ),
    )  # fmt: skip
    return url, ledger.trust.create_token("bench", "bench")


def measure(family: str, cfg: ProjectConfig, split, base, env, rules, requests: int) -> list:
    from fastapi.testclient import TestClient

    from shared.operate.service import create_app

    cand = train_candidate(family, split, cfg)
    bundle = build_bundle(cand.files, base.to_files(), cfg, rules, env, "v1", family, None)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        data = cfg.model_dump()
        data["storage"] = {"data_root": f"{tmp}/data", "ledger_url": f"sqlite:///{tmp}/l.db"}
        local = ProjectConfig.model_validate(data)
        url, token = deploy(tmp, local, bundle, cand, rules)
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(url, cfg=local, identity=DEV), headers=headers) as c:
            for n in (1, 100):
                payload = body(n)
                paths = ("/predict", "/predict?explain=true")
                for p in paths:  # warm up
                    for _ in range(10):
                        r = c.post(p, json=payload)
                        assert r.status_code == 200, f"{p}: {r.status_code} {r.text[:300]}"
                samples: dict[str, list[float]] = {p: [] for p in paths}
                for i in range(requests):
                    for p in paths if i % 2 == 0 else paths[::-1]:
                        t0 = time.perf_counter()
                        r = c.post(p, json=payload)
                        samples[p].append(time.perf_counter() - t0)
                        assert r.status_code == 200, r.text
                (p50, p99), (e50, e99) = ms(samples[paths[0]]), ms(samples[paths[1]])
                out.append(
                    [
                        f"{family}, {n} row(s): /predict (baseline)",
                        f"p50 {p50:.2f} ms",
                        f"p99 {p99:.2f} ms",
                        "",
                    ]
                )
                out.append([
                    f"{family}, {n} row(s): /predict?explain=true",
                    f"p50 {e50:.2f} ms", f"p99 {e99:.2f} ms",
                    f"p50 x{e50 / p50:.2f}, p99 x{e99 / p99:.2f}",
                ])  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--requests", type=int, default=300, help="requests of each kind and size")
    ap.add_argument("--train-rows", type=int, default=20_000)
    args = ap.parse_args()
    cfg = load_project(REPO / "config" / "project.yaml")
    rules = load_rules(REPO / "config" / "rules.yaml")
    print("training the models to explain ...", flush=True)
    split = generated_split(cfg, args.train_rows, seed=3)
    env = Envelope.learn(split.train, cfg)
    base = Baseline(cfg)
    base.fit(split.train, split.y("train"))
    rows = []
    for family in ("xgboost", "torch_mlp"):
        rows += measure(family, cfg, split, base, env, rules, args.requests)
    write_table("explain", "Explanations: /predict?explain=true vs /predict", rows,
                ["what", "p50", "p99", "ratio"])  # fmt: skip
    print(pd.Timestamp.now(tz="UTC"))


if __name__ == "__main__":
    main()
