"""Ledger tables of shared.trust (revision 0006): signatures of decisions, API tokens."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.ledger.models import Base
from shared.ledger.unit import utcnow


class Signature(Base):
    """The signed statement of one approval/rejection (kind approval, ref approvals.id) or
    one promotion/rollback (kind alias_move, ref alias_history.id)."""

    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[int] = mapped_column(Integer)
    signer: Mapped[str] = mapped_column(String(100))
    identity: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    login: Mapped[str] = mapped_column(String(255))
    key_name: Mapped[str] = mapped_column(String(100))
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="ux_signatures_kind_ref"),)


@dataclass(frozen=True)
class NewSignature:
    """A decision's signature, to be written in the decision's own transaction: a ledger
    write given ``seal`` calls it with the decision's record (its id known) and adds the row
    before it commits, so a crash leaves neither the decision nor its signature, or both."""

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


class ApiToken(Base):
    """A bearer token of the scoring service: only its sha256 is kept."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[str | None] = mapped_column(String(100))
