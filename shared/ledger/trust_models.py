"""Ledger tables of shared.trust (revision 0006): signatures of decisions, API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.ledger.models import Base


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
