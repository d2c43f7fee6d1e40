"""`renkei audit verify`: the chain against its anchors, the state tables against the chain."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from shared.ledger.unit import entry_hash as _entry_hash
from tests.builders import Trained
from tests.trust.conftest import renkei

pytestmark = pytest.mark.slow


def _released(t: Trained) -> str:
    """Approve and promote the candidate through the CLI (dev mode, as the demo does)."""
    [v] = t.candidates
    for who in ("kenji", "yui"):
        out = renkei(t, "approve", v, "--as", who, "--comment", "ok")
        assert out.exit_code == 0, out.output
    out = renkei(t, "promote", v, "--to", "production", "--as", "sora", "--reason", "go")
    assert out.exit_code == 0, out.output
    return v


def _attacked(t: Trained, tmp: Path, *statements: str) -> tuple[int, str]:
    """Run raw SQL on a copy of the ledger, then `renkei audit verify` on the copy."""
    db = Path(t.ledger.engine.url.database)
    copy = tmp / f"attacked-{len(list(tmp.glob('attacked-*')))}.db"
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # the ledger runs in WAL mode: copy what is committed, not the file
    with sqlite3.connect(copy) as con:
        for s in statements:
            con.execute(s)
    out = renkei(t, "--ledger", f"sqlite:///{copy}", "audit", "verify")
    return out.exit_code, out.output


def renkei_verify(t: Trained) -> tuple[int, str]:
    out = renkei(t, "audit", "verify")
    return out.exit_code, out.output


def test_state_rows_edited_inserted_or_deleted_are_reported(
    trained: Trained, tmp_path: Path
) -> None:
    t = trained
    v = _released(t)
    mid = int(v[1:])
    rc, out = renkei_verify(t)
    assert rc == 0, out
    assert "state tables agree with the chain" in out and "unverified" in out
    [kenji] = [a for a in t.ledger.releases.approvals(v) if a.actor == "kenji"]

    rc, out = _attacked(t, tmp_path, f"UPDATE approvals SET actor='hana' WHERE id={kenji.id}")
    assert rc == 1
    assert f"approvals row {kenji.id} differs from its audit entry: actor='hana'" in out
    assert f"approval {kenji.id} (approve of {v} by hana): the ledger says signer='hana'" in out

    rc, out = _attacked(
        t,
        tmp_path,
        "INSERT INTO approvals (model_id, actor, role, decision, comment, created_at) "
        f"VALUES ({mid}, 'emi', 'Domain Expert', 'approve', 'sneaked in', '2026-11-01')",
    )
    assert rc == 1 and f"approvals row {kenji.id + 2}: no audit entry produced it" in out

    rc, out = _attacked(t, tmp_path, f"DELETE FROM approvals WHERE id={kenji.id}")
    assert rc == 1 and "approvals: audit entry" in out and "has no row any more" in out

    rc, out = _attacked(t, tmp_path, "UPDATE aliases SET model_id=1 WHERE alias='production'")
    assert rc == 1 and "aliases row production differs from its audit entry: version='v1'" in out

    rc, out = _attacked(t, tmp_path, "DELETE FROM alias_history")
    assert rc == 1 and "alias_history: audit entry" in out

    rc, out = _attacked(t, tmp_path, "UPDATE deployments SET created_by='mina'")
    assert rc == 1 and "deployments row 1 differs from its audit entry: actor='mina'" in out

    rc, out = _attacked(
        t, tmp_path, "UPDATE model_versions SET status='candidate' WHERE family='baseline'"
    )
    assert (
        rc == 1 and "model_versions row 1 differs from its audit entry: status='candidate'" in out
    )


def _rewrite_chain(db: str, entry_id: int, actor: str) -> None:
    """The attack: rewrite one entry and recompute every following hash and the head with
    the chain's public SHA-256 formula, so that the chain alone looks intact."""
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT id, ts, actor, action, subject, details FROM audit_log ORDER BY id"
        ).fetchall()
        prev = "0" * 64
        for eid, ts, who, action, subject, details in rows:
            if eid == entry_id:
                who = actor
                details = json.dumps({**json.loads(details), "note": "rewritten"})
            h = _entry_hash(prev, ts, who, action, subject, details)
            con.execute(
                "UPDATE audit_log SET actor=?, details=?, prev_hash=?, hash=? WHERE id=?",
                (who, details, prev, h, eid),
            )
            prev = h
        con.execute("UPDATE audit_head SET last_hash=? WHERE id=1", (prev,))


def test_a_chain_rewritten_with_recomputed_hashes_is_caught_by_the_anchors(
    trained: Trained,
) -> None:
    t = trained
    _released(t)
    rc, out = renkei_verify(t)
    assert rc == 0, out
    anchors = (Path(t.cfg.storage.data_root) / "audit-anchors.jsonl").read_text().splitlines()
    assert len(anchors) == 3  # one per CLI write (approve, approve, promote)
    first_anchored = json.loads(anchors[0])["last_id"]
    _rewrite_chain(t.ledger.engine.url.database, 1, "somebody-else")
    assert t.ledger.audit.verify().ok  # the old check alone: "audit chain OK"
    rc, out = renkei_verify(t)
    assert rc == 1, out
    assert (
        f"anchor of entry {first_anchored} " in out
        and f"an entry between 1 and {first_anchored} was rewritten, deleted or reordered" in out
    )


def test_entries_after_the_last_anchor_are_named_unanchored(trained: Trained) -> None:
    """What verify cannot prove: entries written without anchoring (here: a writer that
    bypasses the CLI) are reported as unanchored, and a rewrite of them would not show."""
    t = trained
    _released(t)
    t.ledger.audit.append("mallory", "note", "x", {})  # a library writer with no anchor attached
    last = t.ledger.audit.entries()[-1].id
    rc, out = renkei_verify(t)
    assert rc == 0, out
    assert f"entries {last}..{last} come after the last anchor" in out


def _ok(t: Trained, *args: str) -> str:
    out = renkei(t, *args)
    assert out.exit_code == 0, out.output
    return out.output


def test_every_alias_move_replays_shadow_attach_detach_promote_and_rollback(
    trained2: Trained,
) -> None:
    """The demo's seam (issue 23): a shadow challenger is a deployment made by `renkei
    shadow`, not by a promotion; verify must account for it, for its detach and for the
    rollback that follows, and say the state tables agree."""
    t = trained2
    v1, v2 = t.candidates
    for who in ("kenji", "yui"):
        _ok(t, "approve", v1, "--as", who, "--comment", "ok")
    _ok(t, "promote", v1, "--to", "production", "--as", "sora", "--reason", "first")
    _ok(t, "shadow", v2, "--alias", "production", "--as", "sora", "--reason", "try it")
    rc, out = renkei_verify(t)
    assert rc == 0, f"a shadow attach breaks the replay: {out}"
    assert "state tables agree with the chain" in out
    _ok(t, "shadow", "--off", "--as", "sora")
    rc, out = renkei_verify(t)
    assert rc == 0, f"a shadow detach breaks the replay: {out}"
    for who in ("kenji", "yui"):
        _ok(t, "approve", v2, "--as", who, "--comment", "ok")
    _ok(t, "promote", v2, "--to", "production", "--as", "sora", "--reason", "second")
    _ok(t, "rollback", "--as", "sora", "--reason", "back")
    rc, out = renkei_verify(t)
    assert rc == 0 and "state tables agree with the chain" in out, out
    assert [m.action for m in t.ledger.releases.history()] == [
        "promote",
        "shadow",
        "detach",
        "promote",
        "rollback",
    ]


def test_an_action_of_renkei_with_no_replay_rule_is_reported_not_passed(
    trained: Trained,
) -> None:
    """Table-driven: an action in a namespace of Renkei's state-writing actions that the
    replay table does not know is a problem (what it wrote cannot be checked); a state row
    written with it is reported as produced by no entry."""
    t = trained
    _released(t)
    t.ledger.audit.append("sora", "alias.teleport", "production", {"version": "v1"})
    rc, out = renkei_verify(t)
    assert rc == 1, out
    assert "action 'alias.teleport' has no replay rule" in out


def test_the_replay_table_covers_every_ledger_table() -> None:
    from shared.trust.replay_rules import coverage_problems

    assert coverage_problems() == []
