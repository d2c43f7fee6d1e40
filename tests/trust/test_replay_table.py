"""The replay table (shared/trust/replay_rules.py) on a ledger written through the
repositories, one write of every audited kind: every state row replays, and a row of any
replayed table edited, inserted or deleted behind the chain's back is reported."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from shared.config.identity import IdentitySettings
from shared.ledger import (
    AliasAction,
    FeedbackEntry,
    Ledger,
    ModelRegistration,
    ModelStatus,
    NewDeployment,
)
from shared.ledger.intervals import NewIntervalUpdate
from shared.ledger.trust import TrustRecords
from shared.trust.replay import replay
from shared.trust.replay_rules import ACTIONS, RULES

DEV = IdentitySettings(dev_mode=True)  # unsigned decisions pass: this is about state rows


def _reg(family: str, status: ModelStatus) -> ModelRegistration:
    return ModelRegistration(family, status, "mae", {"mae": 5.0}, {}, [], {}, "file:///m", {})


def _dep(who: str) -> NewDeployment:
    return NewDeployment("h" * 64, "abc+hhhh", "abc", "file:///b.zip", who, "s" * 64)


@pytest.fixture
def written(tmp_path: Path) -> tuple[Ledger, Path]:
    db = tmp_path / "ledger.db"
    lg = Ledger.open(f"sqlite:///{db}", create=True)
    run = lg.runs.start("TrainFlow", "1", "mina")
    lg.registry.register(
        run,
        run,
        [_reg("baseline", ModelStatus.BASELINE), _reg("xgboost", ModelStatus.CANDIDATE)],
        [],
        "mina",
        "0" * 40,
        False,
        "c" * 64,
    )
    lg.runs.finish(run, "succeeded")
    lg.releases.add_approval("v2", "kenji", "Domain Expert", "approve", "ok")
    lg.releases.add_approval("v2", "yui", "Model Risk Manager", "reject", "not yet")
    lg.releases.move_alias("production", "v2", "sora", "go", AliasAction.PROMOTE, _dep("sora"))
    lg.releases.move_alias("production-shadow", "v1", "sora", "try", "shadow", _dep("sora"))
    lg.releases.detach_shadow("production", "sora", "off")
    lg.releases.move_alias("production-shadow", "v1", "sora", "again", "shadow", _dep("sora"))
    lg.releases.move_alias("production", "v2", "sora", "back", AliasAction.ROLLBACK)
    batch = lg.operations.record_scoring_batch(
        "ScoreFlow/1", "gen", "file:///raw", "r" * 64, 1, "file:///out", 10, {"model": 10}, "ren"
    )
    entry = FeedbackEntry("o-1", 30.0, "accepted", scoring_batch_id=batch.id)
    lg.operations.record_feedback("labels.csv", [entry], "ren")
    fb = lg.operations.feedback_batches()[-1].id
    lg.intervals.record(
        NewIntervalUpdate("production", 1, 2, fb, 1, 0, 1.0, 1.045, 1.6, 1.672), "ren"
    )
    rep = lg.monitoring.record("MonitorFlow/1", "v2", [batch.id], 10, 0.1, [], True, ["d"], "x")
    lg.monitoring.set_retrain_run(rep.id, "TrainFlow/2", "x")
    TrustRecords(lg).create_token("ci", "sora")
    TrustRecords(lg).revoke_token("ci", "sora")
    lg.audit.append("mallory", "note", "x", {})  # not Renkei's: a note, not a problem
    return lg, db


def _problems(lg: Ledger, db: Path, *statements: str) -> list[str]:
    with sqlite3.connect(db) as con:
        for s in statements:
            con.execute(s)
    problems, _, _ = replay(lg, DEV)
    return problems


def test_every_write_replays_and_every_action_written_is_in_the_table(written) -> None:
    lg, _ = written
    problems, _, notes = replay(lg, DEV)
    assert problems == []
    assert notes == [
        f"audit entry {lg.audit.entries()[-1].id}: action 'note' is not one of "
        "Renkei's: no state is replayed for it"
    ]
    actions = {e.action for e in lg.audit.entries()} - {"note"}
    assert actions <= set(ACTIONS)
    assert {t for a in actions for t in ACTIONS[a]} >= set(RULES) - {
        "datasets",
        "validation_reports",
        "label_batches",
    }


@pytest.mark.parametrize(
    "statement, expected",
    [
        ("UPDATE deployments SET alias='production' WHERE id=2", "deployments row 2 differs"),
        ("DELETE FROM aliases WHERE alias='production-shadow'", "aliases: audit entry"),
        ("UPDATE alias_history SET reason='x' WHERE action='detach'", "alias_history row 3"),
        ("UPDATE scoring_batches SET rows=11", "scoring_batches row 1 differs"),
        ("UPDATE feedback_batches SET accepted=0", "feedback_batches row 1 differs"),
        ("UPDATE monitoring_reports SET retrain_run=NULL", "monitoring_reports row 1 differs"),
        ("UPDATE api_tokens SET revoked_by=NULL", "api_tokens row 1 differs"),
        ("UPDATE interval_updates SET new_factor=2.5", "interval_updates row 1 differs"),
        ("DELETE FROM interval_updates", "interval_updates: audit entry"),
        ("DELETE FROM flow_runs", "flow_runs: audit entry"),
        ("UPDATE flow_runs SET status='failed'", "flow_runs row 1 differs"),
        (
            "INSERT INTO api_tokens (name, token_hash, created_by, created_at) "
            "VALUES ('sneak', 'x', 'mallory', '2026-11-01')",
            "api_tokens row 2: no audit entry produced it",
        ),
    ],
)
def test_a_replayed_table_changed_behind_the_chain_is_reported(
    written, statement: str, expected: str
) -> None:
    lg, db = written
    problems = _problems(lg, db, statement)
    assert any(expected in p for p in problems), problems


def test_an_unknown_action_in_a_renkei_namespace_is_a_problem(written) -> None:
    lg, _ = written
    lg.audit.append("sora", "alias.teleport", "production", {"version": "v1"})
    problems, _, _ = replay(lg, DEV)
    assert problems == [
        f"audit entry {lg.audit.entries()[-1].id}: action 'alias.teleport' has no replay rule, "
        "so the state it wrote cannot be checked (add it to ACTIONS in "
        "shared/trust/replay_rules.py)"
    ]
