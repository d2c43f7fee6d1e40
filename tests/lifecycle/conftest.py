"""One whole lifecycle, the way users run it, on SQLite and on PostgreSQL.

Flows through Metaflow's Runner, the CLI through its console entry (`renkei`, a real
process), the service as a real `renkei serve` on 127.0.0.1. The steps, in order: ingest a
batch with bad rows, train, two approvals, promote, score a drifted batch, serve with
capture, batch and online feedback, ingest a drifted day, monitor (drift: the monitor flow
starts the retraining), attach the retrained candidate as the shadow, score and serve again
(the shadow answers beside production), feedback, monitor (the shadow comparison), detach
the shadow, approve and promote the retrained model, roll back. Built once per backend
(module scope); every invariant is its own test over it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from shared.data.generator import generate_orders
from shared.ledger import Ledger
from shared.operate.scoring import fresh_batch_start
from tests.conftest import (
    FAST_TRAINING,
    REPO,
    free_port,
    stop_process,
    until_health,
    wait_for_http,
    write_project,
)
from tests.flows.helpers import INGEST, MONITOR, SCORE, TRAIN, run_flow

RENKEI = str(Path(sys.executable).with_name("renkei"))  # the console entry users run


@dataclass
class Lived:
    """What the lifecycle left behind, for the invariants to check."""

    backend: str
    project_path: Path
    data_root: Path
    ledger: Ledger
    first: str = ""  # the first candidate, promoted, then rolled back to
    retrained: str = ""  # the candidate the monitor's retraining made
    request_ids: list[str] = field(default_factory=list)  # online answers served
    steps: list[str] = field(default_factory=list)  # what ran, in order
    # adaptive intervals: the update batch feedback made, the factor the service reported
    # for it, and one answer's interval width before and after it
    interval_update: int | None = None
    served_factor: float | None = None
    widths: tuple[float, float] = (0.0, 0.0)
    seconds: float = 0.0
    explained: dict = field(default_factory=dict)  # a /predict?explain=true reply (issue 28)

    def renkei(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
        """`renkei --project <folder> ARGS` as a user types it (a real process)."""
        p = subprocess.run(
            [RENKEI, "--project", str(self.project_path), *args],
            capture_output=True,
            text=True,
            cwd=REPO,
            env={**os.environ, "RENKEI_LEDGER_URL": ""},
            timeout=300,
        )
        if ok:
            assert p.returncode == 0, f"renkei {' '.join(args)}: {p.stdout}{p.stderr}"
        return p

    def flow(self, flow: str, **params: object):
        run, status, out, err = run_flow(flow, self.project_path, **params)
        assert status == "successful", f"{Path(flow).name} {params}: {out[-3000:]}{err[-3000:]}"
        self.steps.append(f"{Path(flow).stem} {run.pathspec}")
        return run, out


def _new_pg_database(postgres_url: str) -> str:
    """A new, empty database on the session's PostgreSQL server (as fresh_pg_url makes)."""
    import psycopg

    name = f"lifecycle{os.getpid()}_{time.time_ns()}"
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def _project(tmp: Path, url: str) -> Path:
    overrides = {
        **FAST_TRAINING,
        "training__families": ["baseline", "xgboost"],
        # the first training searches (issue 28): 2 XGBoost trials in one train task
        "training__search": {
            "trials_per_task": 2,
            "xgboost": {"trials": 2, "timeout_minutes": 5, "seed": 3},
        },
        "capture__flush_seconds": 0.2,
    }
    path = write_project(tmp, **overrides)
    data = yaml.safe_load(path.read_text())
    data["storage"]["ledger_url"] = url
    data["features"][GAP_FEATURE]["nullable"] = True  # real data has gaps (issue 29)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


SEARCH_SAMPLE_ROWS = 1500  # the retraining's trials: a sample of its parts (issue 28)
GAP_FEATURE = "courier_load"  # nullable in the lifecycle's project; every online batch's first
# request lacks it


def _online(base: str, seed: int, rows: int, expect_shadow: str | None) -> pd.DataFrame:
    """Send ``rows`` generated orders, one request each (the first without its nullable
    feature: answered, not rejected); wait until the capture wrote them; return the labels
    of the answered rows with their request ids."""
    g = generate_orders(
        rows, seed=seed, drift=1.0, start=fresh_batch_start(), days=1, id_prefix=f"web{seed}-"
    )
    records = g.orders.drop(columns=["created_at"]).to_dict(orient="records")
    records[0][GAP_FEATURE] = None
    ids = []
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        if expect_shadow is not None:  # every worker's writer picks the shadow up by itself
            until_health(
                base,
                lambda h: all(
                    w["shadow_version"] == expect_shadow
                    for w in h["workers"]
                    if w["status"] not in ("dead", "stopped")
                ),
            )
        before = c.get("/health").json()["capture"]["written"]
        for r in records:
            reply = c.post("/predict", json=r)
            assert reply.status_code == 200, reply.text
            [answer] = reply.json()["predictions"]
            if r[GAP_FEATURE] is None:  # a nullable gap: the guard lets the model answer
                assert answer["decision"] != "rejected", answer
                assert not any(GAP_FEATURE in why for why in answer["reasons"]), answer
            ids.append(reply.json()["request_id"])
        deadline = time.time() + 60
        while c.get("/health").json()["capture"]["written"] < before + rows:
            assert time.time() < deadline, c.get("/health").json()
            time.sleep(0.2)
    labels = g.labels[["order_id", "delivery_minutes"]].copy()
    labels.insert(0, "request_id", ids)
    return labels


def _explained(base: str) -> dict:
    """One /predict?explain=true for a few generated orders (the first without its
    nullable feature, the second with a basket the guard sends to the baseline)."""
    g = generate_orders(
        3, seed=41, bad_fraction=0.0, start=fresh_batch_start(), days=1, id_prefix="why-"
    )
    records = g.orders.drop(columns=["created_at"]).to_dict(orient="records")
    records[0][GAP_FEATURE] = None
    records[1]["basket_size"] = 55  # basket_plausible: fallback
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        reply = c.post("/predict?explain=true", json=records)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _labels(data_root: Path, seed: int) -> str:
    [path] = sorted((data_root / "incoming").glob(f"score-*-seed{seed}-*.labels.parquet"))
    return str(path)


ADAPT_ROW = {
    "order_id": "adapt-1",
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


def _one_answer(base: str) -> dict:
    with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
        return c.post("/predict", json=ADAPT_ROW).json()["predictions"][0]


def _adapted(life: Lived, base: str, before: dict) -> None:
    """Feedback recorded an interval update: wait until every worker of the service reports
    it (the alias check is 1 s; generous for a busy machine), then answer the same row again
    (whichever worker takes it)."""
    [update] = life.ledger.intervals.updates("production")
    life.interval_update = update.id

    def alive(h: dict) -> list[dict]:
        return [w for w in h["workers"] if w["status"] not in ("dead", "stopped")]

    h = until_health(
        base,
        lambda h: (
            len(alive(h)) == h["workers_expected"]
            and all(w["intervals"]["update"] == update.id for w in alive(h))
        ),
    )
    [factor] = {w["intervals"]["factor"] for w in alive(h)}
    life.served_factor = factor
    after = _one_answer(base)
    life.widths = (
        before["interval_high"] - before["interval_low"],
        after["interval_high"] - after["interval_low"],
    )


def live(tmp: Path, backend: str, url: str) -> Lived:
    """Run the whole lifecycle once; every step asserts that it succeeded."""
    started = time.time()
    path = _project(tmp, url)
    life = Lived(backend, path, tmp / "data", None)  # type: ignore[arg-type]
    life.renkei("db", "upgrade")
    life.ledger = Ledger.open(url)
    life.flow(INGEST, rows=4000, seed=11, bad_fraction=0.05)
    life.flow(TRAIN)
    life.first = life.renkei("models", "--latest-candidate").stdout.strip()
    for who in ("kenji", "yui"):
        life.renkei("approve", life.first, "--as", who, "--comment", f"{who}: looks right")
    life.renkei("promote", life.first, "--to", "production", "--as", "sora", "--reason", "first")
    life.flow(SCORE, rows=600, seed=21, drift=1.0, bad_fraction=0.03)

    port = free_port()
    service = subprocess.Popen(
        [RENKEI, "--project", str(path), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "RENKEI_LEDGER_URL": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{base}/health", service)
        online = _online(base, 31, 30, None)
        life.request_ids += list(online["request_id"])
        life.explained = _explained(base)  # a user asks why: the answers and what drove them
        online_csv = tmp / "online-labels-1.csv"
        online.to_csv(online_csv, index=False)
        before = _one_answer(base)
        life.renkei("feedback", _labels(life.data_root, 21), "--as", "ren")
        _adapted(life, base, before)  # the labels moved the quantile: the service uses it
        life.renkei("feedback", str(online_csv), "--as", "ren")

        life.flow(INGEST, rows=4000, seed=12, drift=1.0, bad_fraction=0.02)
        # the data outgrows one task's memory: the retraining reads its split part by part
        # (training.memory: external, issue 26), XGBoost through external memory
        data = yaml.safe_load(path.read_text())
        data["training"]["memory"] = {"mode": "external"}
        # its search tries a seeded sample of the parts, then refits on every part
        data["training"]["search"]["sample_rows"] = SEARCH_SAMPLE_ROWS
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        _, out = life.flow(MONITOR, window=1)  # drift: it starts the train flow itself
        assert "RETRAIN" in out, out[-3000:]
        life.retrained = life.renkei("models", "--latest-candidate").stdout.strip()
        assert life.retrained != life.first, "the monitor's retraining made no new candidate"

        life.renkei(
            "shadow",
            life.retrained,
            "--alias",
            "production",
            "--as",
            "sora",
            "--reason",
            "the retrained model on live traffic",
        )
        life.flow(SCORE, rows=600, seed=22, drift=1.0, bad_fraction=0.03)
        online = _online(base, 32, 30, life.retrained)
        life.request_ids += list(online["request_id"])
        online_csv = tmp / "online-labels-2.csv"
        online.to_csv(online_csv, index=False)
        life.renkei("feedback", _labels(life.data_root, 22), "--as", "ren")
        life.renkei("feedback", str(online_csv), "--as", "ren")
        life.flow(MONITOR, window=1, retrain="none")
    finally:
        stop_process(service)

    life.renkei("shadow", "--off", "--as", "sora", "--reason", "comparison done")
    for who in ("kenji", "yui"):
        life.renkei("approve", life.retrained, "--as", who, "--comment", f"{who}: shadow fine")
    # the release key rotated (keys rotate --release): the promotion below signs with the new
    # key; the rollback goes back to a bundle the old one signed, which must still load
    life.renkei("keys", "rotate", "--release", "--as", "sora")
    life.renkei(
        "promote",
        life.retrained,
        "--to",
        "production",
        "--as",
        "sora",
        "--reason",
        "the retrained model",
    )
    # the ledger key rotated (keys rotate --ledger): the anchors before it keep verifying
    # with the old key, the rollback's with the new one (the audit invariant checks both)
    life.renkei("keys", "rotate", "--ledger", "--as", "sora")
    life.renkei("rollback", "--as", "sora", "--reason", "back to the first, to be safe")
    life.seconds = time.time() - started
    return life


# each backend's build and its tests as one xdist group (used with `--dist loadgroup`)
@pytest.fixture(
    scope="module",
    params=[
        pytest.param(backend, marks=pytest.mark.xdist_group(f"lifecycle-{backend}"))
        for backend in ("sqlite", "postgresql")
    ],
)
def lived(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lived]:
    tmp = tmp_path_factory.mktemp(f"lifecycle-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'ledger.db'}"
    else:
        url = _new_pg_database(request.getfixturevalue("postgres_url"))
    life = live(tmp, request.param, url)
    print(f"\nlifecycle on {request.param}: {life.seconds:.0f} s")
    yield life
    life.ledger.close()
    import gc

    import streamlit as st

    st.cache_resource.clear()  # the app pages' cached ledgers: let go of their connections
    gc.collect()  # (else PostgreSQL's smart shutdown waits for them at the session's end)
