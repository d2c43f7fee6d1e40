"""The ledger on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing as mp
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from shared.config import load_project
from shared.data.generator import generate_orders
from shared.data.ingest import land_raw
from shared.data.partvalidate import validate_batch
from shared.ledger import Ledger, LedgerError

REPO = Path(__file__).resolve().parents[2]
CFG = load_project(REPO / "config" / "project.yaml")


def _ingest(tmp: Path, seed: int, bad: float = 0.05):
    src = tmp / f"b{seed}.csv"
    src.write_text(generate_orders(300, seed=seed, bad_fraction=bad).orders.to_csv(index=False))
    root = str(tmp / "root")
    return validate_batch(land_raw(str(src), root), CFG, root, datetime(2026, 11, 1))


def test_migrations_are_idempotent(ledger_url: str) -> None:
    Ledger.open(ledger_url, create=True)
    ledger = Ledger.open(ledger_url, create=True)  # second upgrade: already at head
    from importlib import resources

    from alembic.script import ScriptDirectory

    migrations = resources.files("shared.ledger") / "migrations"
    head = ScriptDirectory(str(migrations)).get_current_head()
    with ledger.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == head
    # one chain: the head is the newest numbered migration file
    numbered = [f.name[:4] for f in (migrations / "versions").iterdir() if f.name[:4].isdigit()]
    assert head == max(numbered)


def test_ingest_is_recorded_once_per_version(ledger_url: str, tmp_path: Path) -> None:
    ledger = Ledger.open(ledger_url)
    outcome, split = _ingest(tmp_path, 1)
    run = ledger.runs.start("IngestFlow", "1", "mina", "main")
    first = ledger.datasets.record_ingest(outcome, split.reasons, "mina", run)
    again = ledger.datasets.record_ingest(outcome, split.reasons, "taro", None)
    ledger.runs.finish(run, "succeeded")
    assert first.dataset_created and not again.dataset_created
    ds = ledger.datasets.all()
    assert len(ds) == 1 and ds[0].rows_in == 300 and ds[0].created_by == "mina"
    assert ds[0].rows_valid + ds[0].rows_quarantined == 300
    assert len(ledger.datasets.reports(outcome.dataset_version)) == 2
    runs = ledger.runs.all()
    assert runs[0].status == "succeeded" and runs[0].ended_at is not None


def test_quarantine_grouped_by_check(ledger_url: str, tmp_path: Path) -> None:
    ledger = Ledger.open(ledger_url)
    outcome, split = _ingest(tmp_path, 2, bad=0.2)
    ledger.datasets.record_ingest(outcome, split.reasons, "mina")
    summary = ledger.datasets.quarantine(outcome.dataset_version)
    assert summary.rows_quarantined == split.rows_quarantined > 0
    expected = {(c.column, c.check): c.rows for c in split.check_counts()}
    assert {(g.column, g.check): g.rows for g in summary.by_check} == expected
    assert all(g.examples for g in summary.by_check)
    with pytest.raises(LedgerError, match="no dataset version 'ds-nope'"):
        ledger.datasets.quarantine("ds-nope")


def test_audit_chain_detects_edit_delete_and_truncation(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    for i in range(5):
        ledger.audit.append("hana", "test.event", f"s{i}", {"i": i})
    assert ledger.audit.verify().ok and ledger.audit.verify().entries == 5
    with ledger.engine.begin() as c:
        c.execute(text("update audit_log set actor = 'mallory' where id = 2"))
    result = ledger.audit.verify()
    assert not result.ok and any("entry 2" in p and "edited" in p for p in result.problems)
    with ledger.engine.begin() as c:
        c.execute(text("update audit_log set actor = 'hana' where id = 2"))
        c.execute(text("delete from audit_log where id = 3"))
    result = ledger.audit.verify()
    assert any("entry 3 is missing" in p for p in result.problems)


def test_audit_detects_deleted_tail(ledger_url: str) -> None:
    ledger = Ledger.open(ledger_url)
    for i in range(3):
        ledger.audit.append("hana", "test.event", f"s{i}", {})
    with ledger.engine.begin() as c:
        c.execute(text("delete from audit_log where id = 3"))
    result = ledger.audit.verify()
    assert not result.ok and "head records entry 3" in result.problems[0]


def _writer(url: str, tmp: str, seed: int, n: int, k: int) -> None:
    ledger = Ledger.open(url)
    outcome, split = _ingest(Path(tmp), seed)
    run = ledger.runs.start("IngestFlow", f"r{k}", f"user{seed}")
    ledger.datasets.record_ingest(outcome, split.reasons, f"user{seed}", run)
    for i in range(n):
        ledger.audit.append(f"user{seed}", "test.event", f"{seed}-{i}", {"i": i})
    ledger.runs.finish(run, "succeeded")


def test_concurrent_writers_keep_the_ledger_consistent(ledger_url: str, tmp_path: Path) -> None:
    Ledger.open(ledger_url).close()
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_writer, args=(ledger_url, str(tmp_path / f"w{k}"), seed, 15, k))
        for k, seed in enumerate((1, 1, 2))  # two writers ingest the same data at once
    ]
    for k, p in enumerate(procs):
        (tmp_path / f"w{k}").mkdir()
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    ledger = Ledger.open(ledger_url)
    result = ledger.audit.verify()
    assert result.ok, result.problems
    assert result.entries == 3 * (1 + 1 + 15 + 1)
    assert len(ledger.datasets.all()) == 2  # seeds 1 and 2; seed 1 recorded once
    assert len(ledger.datasets.reports()) == 3
    assert {r.status for r in ledger.runs.all()} == {"succeeded"}


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(LedgerError, match="cannot"):
        Ledger.open("nosuchdb://x/y")
