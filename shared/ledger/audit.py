"""The audit chain: append an event, read the entries, verify that nothing was changed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from shared.ledger import tables as orm
from shared.ledger.tables import AuditEntry, AuditHead
from shared.ledger.unit import GENESIS, Repository, entry_hash


@dataclass(frozen=True)
class AuditEntryRecord:
    id: int
    ts: str
    actor: str
    action: str
    subject: str
    details: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    entries: int
    problems: list[str]


def audit_entry_record(e: orm.AuditEntry) -> AuditEntryRecord:
    return AuditEntryRecord(
        e.id, e.ts, e.actor, e.action, e.subject, e.details, e.prev_hash, e.hash
    )


class AuditRepository(Repository):
    def append(self, actor: str, action: str, subject: str, details: Mapping[str, object]) -> None:
        """Append one event to the audit chain (its own transaction)."""
        with self.write() as uow:
            uow.audit(actor, action, subject, details)

    def entries(self) -> list[AuditEntryRecord]:
        with self.read() as s:
            rows = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars()
            return [audit_entry_record(e) for e in rows]

    def verify(self) -> AuditVerification:
        """Recompute the chain: any edited, inserted or deleted entry is reported."""
        problems: list[str] = []
        with self.read() as s:
            head = s.get(AuditHead, 1)
            prev = GENESIS
            expected_id = 1
            count = 0
            for e in s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
                count += 1
                if e.id != expected_id:
                    problems.append(f"entry {expected_id} is missing (next is {e.id})")
                    expected_id = e.id
                if e.prev_hash != prev:
                    problems.append(f"entry {e.id}: does not follow the entry before it")
                h = entry_hash(e.prev_hash, e.ts, e.actor, e.action, e.subject, e.details)
                if h != e.hash:
                    problems.append(f"entry {e.id}: content does not match its hash (edited)")
                prev = e.hash
                expected_id += 1
            if head is not None and (head.last_id != expected_id - 1 or head.last_hash != prev):
                problems.append(
                    f"chain ends at entry {expected_id - 1} but the head records entry "
                    f"{head.last_id} (entries deleted at the end?)"
                )
        return AuditVerification(not problems, count, problems)
