"""A decision's signature, written in the decision's own transaction.

A ledger write given ``seal`` calls it with the decision's record (its id known) and adds the
signature row before it commits: a crash leaves neither the decision nor its signature, or
both. The signing itself (keys, statements) is the trust layer's (shared.trust.decisions).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from shared.ledger.tables import Signature
from shared.ledger.unit import UnitOfWork, utcnow


@dataclass(frozen=True)
class NewSignature:
    """A signature row to write: a decision's (``kind`` approval | alias_move, ``ref_id``)."""

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
            created_at=utcnow(),
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
