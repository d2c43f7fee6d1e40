"""State against record: replay the audit chain against the state tables.

Every approval, alias move, deployment, alias and model version row must have been produced
by an audit entry and agree with it; every signature must verify. ``verify_trust`` joins
this with the chain's own hashes and the anchors: what `renkei audit verify` prints.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.config.identity import IdentitySettings
from shared.ledger import Ledger
from shared.ledger.models import Alias, AliasMove, Approval, AuditEntry, ModelVersion
from shared.ledger.models import Deployment as DeploymentRow
from shared.ledger.trust import TrustRecords
from shared.trust.anchors import AnchorCheck, anchor_store, check_anchors
from shared.trust.decisions import signature_problem


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


def _v(mid: int | None) -> str | None:
    return None if mid is None else f"v{mid}"


def _match(
    table: str,
    rows: list[tuple[int, Hashable, dict[str, Any]]],
    entries: list[tuple[int, Hashable, dict[str, Any]]],
) -> list[str]:
    """Pair each row (id, key, fields) with the first unused entry (id, key, fields) of the
    same key, in order; report rows no entry produced, rows that differ, entries with no row."""
    problems = []
    pool: dict[Hashable, list[tuple[int, dict[str, Any]]]] = {}
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


def replay(ledger: Ledger, settings: IdentitySettings) -> tuple[list[str], int]:
    """Problems of the state tables against the chain, and the count of unverified
    (dev mode) signatures."""
    with Session(ledger.engine) as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
        approvals = list(s.execute(select(Approval).order_by(Approval.id)).scalars())
        moves = list(s.execute(select(AliasMove).order_by(AliasMove.id)).scalars())
        deps = list(s.execute(select(DeploymentRow).order_by(DeploymentRow.id)).scalars())
        aliases = list(s.execute(select(Alias)).scalars())
        models = list(s.execute(select(ModelVersion).order_by(ModelVersion.id)).scalars())
        s.expunge_all()

    def of(prefix: str) -> list[tuple[AuditEntry, dict[str, Any]]]:
        return [(e, json.loads(e.details)) for e in entries if e.action.startswith(prefix)]

    problems: list[str] = []
    appr = of("model.approve") + of("model.reject")
    appr.sort(key=lambda x: x[0].id)
    problems += _match(
        "approvals",
        [
            (
                a.id,
                (f"v{a.model_id}", a.decision),
                {"actor": a.actor, "role": a.role, "comment": a.comment},
            )
            for a in approvals
        ],
        [
            (
                e.id,
                (e.subject, e.action.split(".", 1)[1]),
                {"actor": e.actor, "role": d.get("role"), "comment": d.get("comment")},
            )
            for e, d in appr
        ],
    )
    alias_entries = of("alias.")
    problems += _match(
        "alias_history",
        [
            (
                m.id,
                (m.alias, m.action),
                {
                    "version": f"v{m.model_id}",
                    "previous": _v(m.previous_model_id),
                    "deployment": m.deployment_id,
                    "actor": m.actor,
                    "reason": m.reason,
                },
            )
            for m in moves
        ],
        [
            (
                e.id,
                (e.subject, e.action.split(".", 1)[1]),
                {
                    "version": d.get("version"),
                    "previous": d.get("previous"),
                    "deployment": d.get("deployment"),
                    "actor": e.actor,
                    "reason": d.get("reason"),
                },
            )
            for e, d in alias_entries
        ],
    )
    created = [(e, d) for e, d in alias_entries if e.action == "alias.promote"]
    problems += _match(
        "deployments",
        [
            (
                d.id,
                d.id,
                {
                    "version": f"v{d.model_id}",
                    "alias": d.alias,
                    "rules_version": d.rules_version,
                    "actor": d.created_by,
                },
            )
            for d in deps
        ],
        [
            (
                e.id,
                d.get("deployment"),
                {
                    "version": d.get("version"),
                    "alias": e.subject,
                    "rules_version": d.get("rules_version"),
                    "actor": e.actor,
                },
            )
            for e, d in created
        ],
    )
    final: dict[str, dict[str, Any]] = {}
    for e, d in alias_entries:
        final[e.subject] = {"version": d.get("version"), "deployment": d.get("deployment")}
    problems += _match(
        "aliases",
        [
            (a.alias, a.alias, {"version": f"v{a.model_id}", "deployment": a.deployment_id})
            for a in aliases
        ],
        [(0, k, v) for k, v in final.items()],
    )
    problems += _match(
        "model_versions",
        [
            (m.id, f"v{m.id}", {"family": m.family, "status": m.status, "actor": m.trained_by})
            for m in models
        ],
        [
            (
                e.id,
                e.subject,
                {"family": d.get("family"), "status": d.get("status"), "actor": e.actor},
            )
            for e, d in of("model.register")
        ],
    )
    sig_problems, unverified = _signatures(ledger, settings, approvals, moves)
    return problems + sig_problems, unverified


def _signatures(
    ledger: Ledger, settings: IdentitySettings, approvals: list[Approval], moves: list[AliasMove]
) -> tuple[list[str], int]:
    sigs = TrustRecords(ledger).signatures()
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
        p = signature_problem(settings, sig, fields, what)
        if p:
            problems.append(p)
    return problems, unverified


def verify_trust(
    ledger: Ledger, settings: IdentitySettings, data_root: str, store: Any = None
) -> TrustReport:
    """The chain's hashes, the chain against its anchors, the state tables against the
    chain, and every signature."""
    chain = ledger.audit.verify()
    report = TrustReport(chain.entries, list(chain.problems))
    entries = ledger.audit.entries()
    try:
        store = store or anchor_store(settings, data_root)
    except ValueError as e:
        report.notes.append(f"no anchor store: {e}")
        store = None
    report.anchors = check_anchors(entries, store.read() if store else [], settings)
    report.problems += report.anchors.problems
    if store is not None and report.anchors.anchors == 0:
        report.notes.append(
            f"no anchors in {store.describe()}: nothing outside the database vouches for the chain"
        )
    if report.anchors.unanchored:
        a, b = report.anchors.unanchored
        report.notes.append(
            f"entries {a}..{b} come after the last anchor: a rewrite of them would not show"
        )
    more, report.unverified = replay(ledger, settings)
    report.problems += more
    if report.unverified:
        report.notes.append(
            f"{report.unverified} decision(s) signed by unverified identities (dev mode --as)"
        )
    return report
