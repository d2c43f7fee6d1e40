"""State against record: replay the audit chain against the state tables.

Every row of a replayed state table (approvals, alias moves, deployments, aliases, model
versions, datasets, runs, scoring batches, ... : the table in ``replay_rules``) must have
been produced by an audit entry and agree with it; an action the table does not know is
reported, never passed silently; every signature must verify. ``verify_trust`` joins
this with the chain's own hashes and the anchors: what `renkei audit verify` prints.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from shared.config.identity import IdentitySettings
from shared.ledger import Ledger
from shared.ledger.tables import AliasMove, Approval, AuditEntry
from shared.trust.anchors import AnchorKey, Checkpoint, anchor_store, checkpoint, ledger_key
from shared.trust.decisions import signature_problem
from shared.trust.entry_seals import entry_seals
from shared.trust.key_history import KeyHistory, decision_entries, key_history
from shared.trust.replay_rules import ACTIONS, RULES, Item, coverage_problems, writers
from shared.trust.witness import AnchorCheck, check_anchors, service_writes, witness_problems


@dataclass
class TrustReport:
    entries: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    anchors: AnchorCheck | None = None
    unverified: int = 0  # decisions signed by an unverified (dev mode) identity

    @property
    def ok(self) -> bool:
        return not self.problems


def _match(table: str, rows: list[Item], entries: list[Item]) -> list[str]:
    """Pair each row (id, key, fields) with the first unused entry (id, key, fields) of the
    same key, in order; report rows no entry produced, rows that differ, entries with no row."""
    problems = []
    pool: dict[Hashable, list[tuple[Hashable, dict[str, Any]]]] = {}
    for eid, key, fields in entries:
        pool.setdefault(key, []).append((eid, fields))
    for rid, key, fields in rows:
        if not pool.get(key):
            problems.append(f"{table} row {rid}: no audit entry produced it ({fields})")
            continue
        eid, want = pool[key].pop(0)
        diff = [
            f"{k}={fields[k]!r} (audit entry {eid}: {want[k]!r})"
            for k in want
            if fields.get(k) != want[k]
        ]
        if diff:
            problems.append(f"{table} row {rid} differs from its audit entry: {', '.join(diff)}")
    for key, left in pool.items():
        for eid, want in left:
            problems.append(
                f"{table}: audit entry {eid} ({key}) has no row any more (deleted): {want}"
            )
    return problems


def _unknown_actions(entries: list[AuditEntry]) -> tuple[list[str], list[str]]:
    """Entries whose action the replay table does not know: a problem when the action is in
    a namespace of Renkei's state-writing actions (``alias.``, ``model.``, ...: it wrote
    state nobody can check), a note otherwise (an annotation a library caller appended)."""
    spaces = {a.split(".", 1)[0] for a in ACTIONS}
    problems, notes = [], []
    for e in entries:
        if e.action in ACTIONS:
            continue
        if e.action.split(".", 1)[0] in spaces:
            problems.append(
                f"audit entry {e.id}: action {e.action!r} has no replay rule, so the state it "
                "wrote cannot be checked (add it to ACTIONS in shared/trust/replay_rules.py)"
            )
        else:
            notes.append(
                f"audit entry {e.id}: action {e.action!r} is not one of Renkei's: no state "
                "is replayed for it"
            )
    return problems, notes


def replay(ledger: Ledger, settings: IdentitySettings) -> tuple[list[str], int, list[str]]:
    """Problems of the state tables against the chain, the count of unverified (dev mode)
    signatures, and notes (entries of actions that are not Renkei's)."""
    with Session(ledger.engine) as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
        tables = sorted(inspect(s.connection()).get_table_names())
        state = {t: rule.rows(s) for t, rule in RULES.items()}
        approvals = list(s.execute(select(Approval).order_by(Approval.id)).scalars())
        moves = list(s.execute(select(AliasMove).order_by(AliasMove.id)).scalars())
        s.expunge_all()
    problems = coverage_problems([t for t in tables if t != "alembic_version"])
    unknown, notes = _unknown_actions(entries)
    problems += unknown
    events = [(e, json.loads(e.details)) for e in entries]
    for table, rule in RULES.items():
        acts = writers(table)
        problems += _match(
            table, state[table], rule.expected([x for x in events if x[0].action in acts])
        )
    history = key_history(entries)
    positions = decision_entries(state, events)
    sig_problems, unverified = _signatures(ledger, settings, approvals, moves, history, positions)
    sig_problems += entry_seals(ledger, settings, entries)[1]  # the app's sealed entries
    return problems + history.problems + sig_problems, unverified, notes


def _signatures(
    ledger: Ledger,
    settings: IdentitySettings,
    approvals: list[Approval],
    moves: list[AliasMove],
    history: KeyHistory,
    positions: dict[tuple[str, int], int],
) -> tuple[list[str], int]:
    sigs = ledger.trust.signatures()
    problems = []
    unverified = sum(s.identity != "verified" for s in sigs.values())
    checks: list[tuple[str, int, dict[str, Any], str]] = [
        (
            "approval",
            a.id,
            {
                "action": a.decision,
                "version": f"v{a.model_id}",
                "signer": a.actor,
                "role": a.role,
                "comment": a.comment,
            },
            f"approval {a.id} ({a.decision} of v{a.model_id} by {a.actor})",
        )
        for a in approvals
    ] + [
        (
            "alias_move",
            m.id,
            {
                "action": m.action,
                "version": f"v{m.model_id}",
                "alias": m.alias,
                "signer": m.actor,
                "deployment": m.deployment_id,
                "reason": m.reason,
            },
            f"{m.action} {m.id} of {m.alias} to v{m.model_id} by {m.actor}",
        )
        for m in moves
    ]
    for kind, ref, fields, what in checks:
        sig = sigs.get((kind, ref))
        if sig is None and settings.dev_mode:
            continue  # dev mode: unsigned decisions (library callers, old ledgers) accepted
        p = signature_problem(settings, sig, fields, what, history, positions.get((kind, ref)))
        if p:
            problems.append(p)
    return problems, unverified


def verify_trust(
    ledger: Ledger, settings: IdentitySettings, data_root: str, store: Any = None
) -> TrustReport:
    """The chain's hashes, the chain against its anchors (a missing witness is a failure:
    shared.trust.witness), the state tables against the chain, and every signature."""
    chain = ledger.audit.verify()
    report = TrustReport(chain.entries, list(chain.problems))
    entries = ledger.audit.entries()
    checkpoints: list[Checkpoint] = []
    try:
        store = store or anchor_store(settings, data_root)
    except ValueError as e:
        report.problems.append(f"no anchor store: {e}")
        store = None
    if store is not None:
        try:
            checkpoints = store.read()
        except Exception as e:  # an unreachable bucket, an unreadable file
            report.problems.append(f"cannot read the anchor store {store.describe()}: {e}")
            store = None
    report.anchors = check_anchors(entries, checkpoints, settings, service_writes(ledger, settings))
    report.problems += report.anchors.problems
    report.notes += report.anchors.notes
    if store is not None:
        more, notes = witness_problems(
            entries, report.anchors, settings.anchors.every, store.describe()
        )
        report.problems += more
        report.notes += notes
    more, report.unverified, notes = replay(ledger, settings)
    report.problems += more
    report.notes += notes
    if report.unverified:
        report.notes.append(
            f"{report.unverified} decision(s) signed by unverified identities (dev mode --as)"
        )
    return report


def catch_up(
    ledger: Ledger, settings: IdentitySettings, data_root: str, member: AnchorKey | None = None
) -> tuple[TrustReport, Checkpoint | None]:
    """Anchor the chain's head when verify passes and entries come after the last anchor
    (what a crash between a commit and its anchor leaves): signed with ``member``'s own key
    (a verified member listed in roles.yaml: in production nobody but the job role holds the
    ledger key), marked as a catch-up, which verify counts for no more than a crash leaves
    (shared.trust.witness); without one, with the ledger key. An anchor never vouches for a
    chain that does not verify: then nothing is written."""
    report = verify_trust(ledger, settings, data_root)
    if not report.ok or report.anchors is None or report.anchors.unanchored is None:
        return report, None
    assert report.anchors.head is not None
    last_id, last_hash = report.anchors.head
    if member is not None:
        cp = member.checkpoint(last_id, last_hash, catch_up=True)
    else:
        cp = checkpoint(ledger_key(settings, data_root), last_id, last_hash)
    anchor_store(settings, data_root).append(cp)
    return report, cp
