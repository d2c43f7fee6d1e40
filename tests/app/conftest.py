"""App fixtures: an empty ledger and a populated one (trained, approved, promoted, scored)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shared.data.generator import generate_orders
from shared.operate.feedback import apply_feedback
from shared.operate.scoring import fresh_batch_start
from shared.operate.service import create_app
from shared.pipeline.monitor import check
from shared.pipeline.score import score
from shared.release import promote, review
from shared.release.shadow import attach
from tests.builders import build, cached
from tests.conftest import REPO, write_project

APP = str(REPO / "app" / "Home.py")
PAGES = [
    "overview",
    "lineage",
    "models",
    "roles",
    "guard",
    "audit",
    "operator",
    "monitoring",
    "costs",
]


def populate(tmp: Path):
    """Two training runs; the first approved, promoted and used for a scoring batch and
    online answers (captured), the second beside it as the shadow challenger. The test's
    own copy of a state made once per test process."""
    url = f"sqlite:///{tmp / 'ledger.db'}"
    return cached(tmp, url, ("populate",), lambda folder, _: _populate_here(folder))


def _populate_here(tmp: Path):
    t = build(tmp, f"sqlite:///{tmp / 'ledger.db'}", runs=2)
    v1, v2 = t.candidates
    review(t.ledger, t.roles, v1, "kenji", "zones fine", "approve")
    review(t.ledger, t.roles, v1, "yui", "risk ok", "approve")
    promote(t.ledger, t.roles, t.cfg, t.rules, v1, "production", "sora", "first", "abc")
    attach(t.ledger, t.roles, t.cfg, t.rules, v2, "production", "sora", "try it", "abc")
    g = generate_orders(
        600, seed=5, bad_fraction=0.1, drift=0.5, start=fresh_batch_start(), days=1, id_prefix="s"
    )
    src = tmp / "batch.csv"
    g.orders.to_csv(src, index=False)
    score(t.ledger, t.cfg, "ScoreFlow/test", "ren", str(src), partition_rows=300, keys=t.keys)
    o = generate_orders(40, seed=8, start=fresh_batch_start(), days=1, id_prefix="o").orders
    online = json.loads(o.drop(columns=["created_at"]).to_json(orient="records"))
    url = f"sqlite:///{tmp / 'ledger.db'}"
    with TestClient(create_app(url, cfg=t.cfg, identity=t.roles.identity)) as c:
        t.request_ids = [c.post("/predict", json=row).json()["request_id"] for row in online]
    apply_feedback(t.ledger, t.cfg, g.labels.iloc[:300], "labels.parquet", "ren", keys=t.keys)
    check(t.ledger, t.cfg, None, "MonitorFlow/test", "sora")
    return t


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch):
    """Point the app at a project config through the environment, as `renkei app` does."""

    def use(project: Path) -> None:
        monkeypatch.setenv("RENKEI_PROJECT", str(project))
        monkeypatch.setenv("RENKEI_LEDGER_URL", "")
        import streamlit as st

        st.cache_resource.clear()

    return use


@pytest.fixture
def empty_project(tmp_path: Path) -> Path:
    return write_project(tmp_path)


@pytest.fixture
def populated(tmp_path: Path):
    return populate(tmp_path)


@pytest.fixture(scope="module")
def populated_to_read(tmp_path_factory: pytest.TempPathFactory):
    """One populated ledger shared by a module's tests that only read it (pages rendered,
    nothing approved, labelled or written): built once instead of once per test."""
    return populate(tmp_path_factory.mktemp("populated"))
