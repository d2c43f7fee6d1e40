"""A decision's signature, written in the decision's own transaction.

A ledger write given ``seal`` calls it with the decision's record (its id known) and adds the
signature row before it commits: a crash leaves neither the decision nor its signature, or
both. The signing itself (keys, statements) is the trust layer's (shared.trust.decisions).

Inside :func:`sealing_entries`, every audit entry a write appends is sealed the same way (an
:data:`EntrySeal`: a statement naming the entry, its id and hash), in the write's own
transaction: the app signs each write it makes for a signed-in user with its service key,
feedback included, so `renkei audit verify` can tell the app's writes from anyone else's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from shared.ledger.tables import AuditEntry, Signature

if TYPE_CHECKING:
    from shared.ledger.unit import UnitOfWork


@dataclass(frozen=True)
class NewSignature:
    """A signature row to write: a decision's (``kind`` approval | alias_move, ``ref_id``),
    or an audit entry's (``kind`` audit_entry, ``ref_id`` the entry's id)."""

    kind: str
    ref_id: int
    signer: str
    identity: str
    provider: str
    login: str
    key_name: str
    statement: dict[str, Any]
    signature: str
    public_key: str

    def row(self) -> Signature:
        return Signature(
            kind=self.kind,
            ref_id=self.ref_id,
            signer=self.signer,
            identity=self.identity,
            provider=self.provider,
            login=self.login,
            key_name=self.key_name,
            statement=json.dumps(self.statement, sort_keys=True, default=str),
            signature=self.signature,
            public_key=self.public_key,
            created_at=datetime.now(UTC),
        )


# the signature of a decision, given its record (ApprovalRecord, AliasMoveRecord)
Seal = Callable[[Any], NewSignature]

R = TypeVar("R")


def sealed(uow: UnitOfWork, record: R, seal: Seal | None) -> R:
    """``record`` (a decision), its signature added in the same transaction when ``seal``."""
    if seal is not None:
        uow.session.add(seal(record).row())
        uow.session.flush()
    return record


ENTRY = "audit_entry"  # the kind of an audit entry's seal (ref_id: the entry's id)
# the signature of an audit entry, given the entry as appended (id and hash known)
EntrySeal = Callable[[AuditEntry], NewSignature]
_SEALING: ContextVar[EntrySeal | None] = ContextVar("renkei_entry_seal", default=None)


def entry_statement(entry: Any) -> dict[str, Any]:
    """What an audit entry's seal names: the entry (id and hash: its place in the chain and
    its content), its action, actor and subject."""
    return {
        "entry": entry.id,
        "entry_hash": entry.hash,
        "action": entry.action,
        "actor": entry.actor,
        "subject": entry.subject,
    }


@contextmanager
def sealing_entries(seal: EntrySeal | None) -> Iterator[None]:
    """Seal every audit entry the writes inside this block append (this thread: one app
    session's script run) with ``seal``, each in its write's own transaction (None: as
    without the block)."""
    token = _SEALING.set(seal)
    try:
        yield
    finally:
        _SEALING.reset(token)


def seal_entry(uow: UnitOfWork, entry: AuditEntry) -> None:
    """The seal of ``entry`` (just appended in ``uow``), when inside :func:`sealing_entries`."""
    seal = _SEALING.get()
    if seal is not None:
        uow.session.add(seal(entry).row())
