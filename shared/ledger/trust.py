"""The ledger's trust records: signatures of decisions and hashed API tokens."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.ledger.seals import NewSignature
from shared.ledger.store import Ledger
from shared.ledger.tables import ApiToken, Signature
from shared.ledger.unit import utcnow
from shared.ledger.vocab import LedgerError


@dataclass(frozen=True)
class SignatureRecord:
    id: int
    kind: str  # approval | alias_move
    ref_id: int
    signer: str
    identity: str  # verified | unverified
    provider: str
    login: str
    key_name: str
    statement: dict[str, Any]
    signature: str
    public_key: str
    created_at: datetime


@dataclass(frozen=True)
class TokenRecord:
    id: int
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TrustRecords:
    """Signatures and API tokens in the ledger ``ledger``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    # -- signatures ----------------------------------------------------------------------
    def add(self, sig: NewSignature) -> None:
        """A signature in a transaction of its own (a decision's own is written by the
        decision's write, given its ``seal``)."""
        with Session(self.ledger.engine) as s, s.begin():
            s.add(sig.row())

    def add_signature(self, kind: str, ref_id: int, **fields: Any) -> None:
        self.add(NewSignature(kind, ref_id, **fields))

    @staticmethod
    def _sig(r: Signature) -> SignatureRecord:
        return SignatureRecord(
            r.id,
            r.kind,
            r.ref_id,
            r.signer,
            r.identity,
            r.provider,
            r.login,
            r.key_name,
            json.loads(r.statement),
            r.signature,
            r.public_key,
            r.created_at,
        )

    def signatures(self, kind: str | None = None) -> dict[tuple[str, int], SignatureRecord]:
        """Every signature by (kind, ref_id)."""
        with Session(self.ledger.engine) as s:
            q = select(Signature).order_by(Signature.id)
            if kind:
                q = q.where(Signature.kind == kind)
            return {(r.kind, r.ref_id): self._sig(r) for r in s.execute(q).scalars()}

    # -- API tokens ----------------------------------------------------------------------
    def create_token(self, name: str, actor: str) -> str:
        """A new random token named ``name``; only its sha256 is stored. Returns the token."""
        token = "rk_" + secrets.token_urlsafe(32)
        try:
            with self.ledger.audit.write() as uow:  # one unit of work, audited
                s, audit = uow.session, uow.audit
                s.add(
                    ApiToken(
                        name=name,
                        token_hash=token_hash(token),
                        created_by=actor,
                        created_at=utcnow(),
                    )
                )
                s.flush()
                audit(actor, "token.create", name, {})
        except IntegrityError:
            raise LedgerError(
                f"a token named {name!r} exists already: pick another --name"
            ) from None
        return token

    def revoke_token(self, name: str, actor: str) -> None:
        with self.ledger.audit.write() as uow:  # one unit of work, audited
            s, audit = uow.session, uow.audit
            t = s.execute(select(ApiToken).where(ApiToken.name == name)).scalar()
            if t is None:
                raise LedgerError(f"no API token named {name!r}: see `renkei tokens list`")
            if t.revoked_at is None:
                t.revoked_at, t.revoked_by = utcnow(), actor
                audit(actor, "token.revoke", name, {})

    def tokens(self) -> list[TokenRecord]:
        with Session(self.ledger.engine) as s:
            return [
                TokenRecord(t.id, t.name, t.created_by, t.created_at, t.revoked_at, t.revoked_by)
                for t in s.execute(select(ApiToken).order_by(ApiToken.id)).scalars()
            ]

    def token_name(self, token: str) -> str | None:
        """The name of the active token ``token``, or None (unknown or revoked)."""
        h = token_hash(token)
        with Session(self.ledger.engine) as s:
            t = s.execute(select(ApiToken).where(ApiToken.token_hash == h)).scalar()
        if t is None or t.revoked_at is not None or not hmac.compare_digest(t.token_hash, h):
            return None
        return t.name
