"""The history of the keys, recorded in the audit chain: which key signed when.

Three audited actions, each an entry of the chain (hashed, anchored like every other):

- ``key.rotate`` (`renkei keys rotate --ledger`): the ledger key changes from ``old`` to
  ``new``. The entry holds a statement naming both, signed by both keys, so each vouches for
  the other: roles.yaml may pin either (``identity.ledger_key.public``) and the other is
  trusted through the entry. Rotations form one line in chain order; one whose ``old`` is
  not the ledger key of that moment links nothing. A key rotated away at entry R may sign
  anchors of entries up to R (the rotation entry itself is anchored by it); its anchors of
  later entries (a process that loaded it before the rotation) are not counted.
- ``release_key.rotate`` (`renkei keys rotate --release`): the key that signs served bundles
  changes from ``old`` to ``new`` (ECDSA public keys), in a statement both keys sign; one
  signed otherwise is reported by `renkei audit verify`.
- ``key.revoke`` (`renkei keys revoke MEMBER`): a member's public key is revoked, in a
  statement the revoking member signs with their own key. "As of their time" is the chain's
  order: a decision signed with that key verifies (against the
  revoked key, which the revocation entry names) when the decision's own audit entry comes
  before the revocation entry, and is refused when it comes after. The chain's order, not a
  time in the signed statement, decides: the signer writes that time, and the chain is
  anchored outside the database, so an entry cannot be slipped in before the revocation.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from shared.config.identity import IdentitySettings
from shared.trust import keys

ROTATE = "key.rotate"
REVOKE = "key.revoke"
RELEASE_ROTATE = "release_key.rotate"  # the release key (bundles), signed by both halves


def rotation_statement(old: str, new: str, time: str) -> dict[str, Any]:
    """What both ledger keys sign when the first hands over to the second."""
    return {"action": ROTATE, "key": "ledger", "old": old, "new": new, "time": time}


@dataclass(frozen=True)
class Revocation:
    entry: int
    ts: str
    actor: str
    member: str
    public_key: str
    signer: str = ""  # the member who revoked it, and their signature of the statement
    signer_key: str = ""
    statement: dict[str, Any] = field(default_factory=dict)
    signature: str = ""

    def label(self) -> str:
        return f"audit entry {self.entry} ({self.ts}, by {self.actor})"


@dataclass
class KeyHistory:
    ledger_keys: list[tuple[str, int | None]] = field(default_factory=list)  # (key, retired at)
    release_rotations: list[tuple[int, str, str]] = field(default_factory=list)  # entry, old, new
    revocations: dict[str, Revocation] = field(default_factory=dict)  # by public key
    problems: list[str] = field(default_factory=list)

    def retired_at(self, public: str) -> int | None:
        return dict(self.ledger_keys).get(public)

    def trusted_ledger_keys(self, pinned: str | None) -> set[str] | None:
        """The ledger keys anchors may be signed with: the pinned key and the keys the
        rotations link it to (None: nothing is pinned, every key is taken at its word)."""
        if pinned is None:
            return None
        line = {k for k, _ in self.ledger_keys}
        return line if pinned in line else {pinned}

    def vouched(self, rev: Revocation, settings: IdentitySettings) -> bool:
        """Whether ``rev`` may vouch that its key was its member's until then: its statement
        is signed by a member whose key roles.yaml lists (or whose key was revoked later, by
        a revocation that is itself vouched for); dev mode: by any key (as dev signatures).
        An entry anyone could append refuses, never admits."""
        st = rev.statement
        if st.get("public_key") != rev.public_key or st.get("member") != rev.member:
            return False
        if not rev.signature or not keys.verify(rev.signer_key, st, rev.signature):
            return False
        if settings.dev_mode or settings.public_keys.get(rev.signer) == rev.signer_key:
            return True
        later = self.revocations.get(rev.signer_key)
        return (
            later is not None
            and later.entry > rev.entry
            and later.member == rev.signer
            and self.vouched(later, settings)
        )

    def current_ledger_key(self) -> str | None:
        return self.ledger_keys[-1][0] if self.ledger_keys else None


def _rotation(e: Any, d: dict[str, Any]) -> tuple[str, str] | str:
    """(old, new) of a rotation entry whose statement both keys signed, else why not."""
    stmt = d.get("statement") or {}
    old, new = stmt.get("old"), stmt.get("new")
    if stmt.get("action") != ROTATE or not old or not new:
        return f"audit entry {e.id}: a ledger key rotation without its statement"
    if not keys.verify(old, stmt, d.get("old_signature", "")):
        return f"audit entry {e.id}: the rotation is not signed by the old ledger key"
    if not keys.verify(new, stmt, d.get("new_signature", "")):
        return f"audit entry {e.id}: the rotation is not signed by the new ledger key"
    return old, new


def _release_rotation(h: KeyHistory, e: Any, d: dict[str, Any]) -> None:
    """A release-key rotation entry: kept when both keys signed its statement."""
    from shared.trust.release_key import statement_verifies

    stmt = d.get("statement") or {}
    old, new = stmt.get("old"), stmt.get("new")
    if stmt.get("action") != RELEASE_ROTATE or not old or not new:
        h.problems.append(f"audit entry {e.id}: a release key rotation without its statement")
    elif not statement_verifies(old, stmt, d.get("old_signature", "")):
        h.problems.append(
            f"audit entry {e.id}: the release key rotation is not signed by the old key"
        )
    elif not statement_verifies(new, stmt, d.get("new_signature", "")):
        h.problems.append(
            f"audit entry {e.id}: the release key rotation is not signed by the new key"
        )
    else:
        h.release_rotations.append((e.id, old, new))


def key_history(entries: list[Any]) -> KeyHistory:
    """The key history in ``entries`` (audit entries in chain order: id, ts, actor, action,
    details as JSON)."""
    h = KeyHistory()
    current: str | None = None
    for e in entries:
        if e.action not in (ROTATE, REVOKE, RELEASE_ROTATE):
            continue
        d = json.loads(e.details)
        if e.action == RELEASE_ROTATE:
            _release_rotation(h, e, d)
            continue
        if e.action == REVOKE:
            key = d.get("public_key")
            if key and key not in h.revocations:
                h.revocations[key] = Revocation(
                    e.id,
                    e.ts,
                    e.actor,
                    d.get("member", ""),
                    key,
                    d.get("signer", ""),
                    d.get("signer_key", ""),
                    d.get("statement") or {},
                    d.get("signature", ""),
                )
            continue
        r = _rotation(e, d)
        if isinstance(r, str):
            h.problems.append(f"{r}: it links no key")
            continue
        old, new = r
        if current is not None and old != current:
            h.problems.append(
                f"audit entry {e.id}: rotates the ledger key from {keys.key_id(old)}, but the "
                f"ledger key then was {keys.key_id(current)}: it links no key"
            )
            continue
        h.ledger_keys.append((old, e.id))
        current = new
    if current is not None:
        h.ledger_keys.append((current, None))
    return h


def revoke_statement(member: str, public: str, reason: str, signer: str, time: str) -> dict:
    """What the revoking member signs."""
    return {
        "action": REVOKE,
        "member": member,
        "public_key": public,
        "reason": reason,
        "signer": signer,
        "time": time,
    }


def revocation_problem(
    history: KeyHistory | None,
    sig: Any,
    position: int | None,
    what: str,
    settings: IdentitySettings,
) -> tuple[str | None, str | None]:
    """(why ``sig`` is refused, or the revoked key it verifies against as of its time):
    (None, None) when its key was never revoked. ``position``: the audit entry of the
    decision it signs (None: no entry produced it, so it cannot be placed before anything).
    Only a revocation signed by a member (``KeyHistory.vouched``) makes the revoked key
    verify earlier signatures; any revocation refuses later ones."""
    rev = history.revocations.get(sig.public_key) if history else None
    if rev is None:
        return None, None
    if position is None or position > rev.entry:
        where = "after" if position else "with no audit entry placing it before"
        return (
            f"{what}: signed with {rev.member}'s key {keys.key_id(rev.public_key)}, {where} "
            f"its revocation at {rev.label()}: refused"
        ), None
    if rev.member != sig.key_name or not history.vouched(rev, settings):  # type: ignore[union-attr]
        return None, None
    return None, rev.public_key


def decision_entries(
    rows: dict[str, list[Any]], events: list[tuple[Any, dict[str, Any]]]
) -> dict[tuple[str, int], int]:
    """The audit entry of each decision, ``(kind, row id) -> entry id`` (kind approval or
    alias_move), paired as the replay pairs rows and entries: ``rows`` per replayed table
    (``RULES[t].rows``), ``events`` the chain's entries with their details."""
    from shared.trust.replay_rules import RULES, writers

    out: dict[tuple[str, int], int] = {}
    for kind, table in (("approval", "approvals"), ("alias_move", "alias_history")):
        acts = writers(table)
        pool: dict[Hashable, list[int]] = {}
        for eid, key, _ in RULES[table].expected([x for x in events if x[0].action in acts]):
            pool.setdefault(key, []).append(int(eid))  # type: ignore[call-overload]
        for rid, key, _ in rows[table]:
            if pool.get(key):
                out[(kind, int(rid))] = pool[key].pop(0)  # type: ignore[call-overload]
    return out


def ledger_decision_entries(ledger: Any) -> tuple[KeyHistory, dict[tuple[str, int], int]]:
    """The key history and each decision's audit entry, read from ``ledger``."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from shared.ledger.tables import AuditEntry
    from shared.trust.replay_rules import RULES

    with Session(ledger.engine) as s:
        entries = list(s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars())
        rows = {t: RULES[t].rows(s) for t in ("approvals", "alias_history")}
        events = [(e, json.loads(e.details)) for e in entries]
        return key_history(entries), decision_entries(rows, events)
