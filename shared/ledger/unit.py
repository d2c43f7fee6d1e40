"""One unit of work: a write transaction holding the audit chain's head, and the append.

Every repository write goes through :meth:`Repository.write`; the chain's head row is locked
first (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), so concurrent
writers serialise and the chain stays linear.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from shared.ledger.seals import seal_entry
from shared.ledger.tables import AuditEntry, AuditHead, Base
from shared.ledger.vocab import LedgerError

GENESIS = "0" * 64
Row = TypeVar("Row", bound=Base)
# called after a write committed audit entries: (first new id, last id, last hash)
CommitHook = Callable[[int, int, str], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


def entry_hash(prev: str, ts: str, actor: str, action: str, subject: str, details: str) -> str:
    payload = json.dumps([prev, ts, actor, action, subject, details], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


class UnitOfWork:
    """A session inside one write transaction, and the audit append that goes with it."""

    def __init__(self, session: Session, head: AuditHead) -> None:
        self.session = session
        self._head = head

    def audit(self, actor: str, action: str, subject: str, details: Mapping[str, object]) -> None:
        """Append one event to the audit chain, in this transaction (sealed there when the
        write runs inside :func:`shared.ledger.seals.sealing_entries`)."""
        ts = utcnow().isoformat()
        body = json.dumps(dict(details), sort_keys=True, default=str)
        head = self._head
        h = entry_hash(head.last_hash, ts, actor, action, subject, body)
        entry = AuditEntry(
            id=head.last_id + 1,
            ts=ts,
            actor=actor,
            action=action,
            subject=subject,
            details=body,
            prev_hash=head.last_hash,
            hash=h,
        )
        self.session.add(entry)
        head.last_id += 1
        head.last_hash = h
        seal_entry(self, entry)  # inside shared.ledger.seals.sealing_entries: its signature
        self.session.flush()


class Repository:
    """What every repository shares: the engine, read sessions and units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.on_commit: CommitHook | None = None  # shared.trust.anchors sets it (Ledger.on_commit)

    def read(self) -> Session:
        return Session(self.engine)

    @staticmethod
    def row(s: Session, table: type[Row], key: object, missing: str) -> Row:
        """The row of ``table`` with primary key ``key``; LedgerError(``missing``) if none."""
        found = s.get(table, key)
        if found is None:
            raise LedgerError(missing)
        return found

    @contextmanager
    def write(self) -> Iterator[UnitOfWork]:
        with Session(self.engine) as s, s.begin():
            head = s.execute(
                select(AuditHead).where(AuditHead.id == 1).with_for_update()
            ).scalar_one()
            first = head.last_id + 1
            yield UnitOfWork(s, head)
            last = (head.last_id, head.last_hash)
        if self.on_commit is not None and last[0] >= first:
            self.on_commit(first, *last)
