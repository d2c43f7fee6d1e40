"""Every decision's signature is written in the decision's own transaction (issue 25, item
5): a process killed between a decision's rows and its signature (RENKEI_INJECT_FAULT=
sign-kill, a real `renkei` process) leaves neither; a bug there (sign-bug) leaves neither;
run again, the decision is recorded with its signature. Approvals, promotions, shadow attach
and detach, rollbacks."""

from __future__ import annotations

import sqlite3

import pytest

from tests.builders import Trained
from tests.trust.conftest import renkei_process

pytestmark = pytest.mark.slow


def _counts(t: Trained) -> tuple[int, int, int]:
    """(approvals, alias moves, signatures) as committed in the ledger."""
    with sqlite3.connect(t.ledger.engine.url.database) as con:
        return tuple(  # type: ignore[return-value]
            con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("approvals", "alias_history", "signatures")
        )


def _decide(t: Trained, *args: str) -> None:
    """``args`` killed between the decision and its signature, then with a bug there, then
    run as usual: nothing, nothing, then the decision and its signature."""
    before = _counts(t)
    killed = renkei_process(t, *args, env={"RENKEI_INJECT_FAULT": "sign-kill"})
    assert killed.returncode == -9, killed.stdout + killed.stderr
    assert _counts(t) == before, f"renkei {' '.join(args)} killed before its signature"
    bug = renkei_process(t, *args, env={"RENKEI_INJECT_FAULT": "sign-bug"})
    assert bug.returncode != 0 and "injected bug at sign" in bug.stderr, bug.stderr
    assert _counts(t) == before, f"renkei {' '.join(args)} failed before its signature"
    ok = renkei_process(t, *args)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    approvals, moves, signatures = _counts(t)
    assert signatures == before[2] + 1 and approvals + moves == sum(before[:2]) + 1


def test_a_fault_between_a_decision_and_its_signature_leaves_neither(
    trained2: Trained,
) -> None:
    t = trained2
    v1, v2 = t.candidates
    for who in ("kenji", "yui"):
        _decide(t, "approve", v1, "--as", who, "--comment", "ok")
    _decide(t, "promote", v1, "--to", "production", "--as", "sora", "--reason", "first")
    _decide(t, "shadow", v2, "--alias", "production", "--as", "sora", "--reason", "try")
    _decide(t, "shadow", "--off", "--as", "sora", "--reason", "done")
    for who in ("kenji", "yui"):
        _decide(t, "approve", v2, "--as", who, "--comment", "ok")
    _decide(t, "promote", v2, "--to", "production", "--as", "sora", "--reason", "second")
    _decide(t, "rollback", "--as", "sora", "--reason", "back")
    verify = renkei_process(t, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "every signature verifies" in verify.stdout
