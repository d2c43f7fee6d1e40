"""Changing keys, audited: rotating the ledger key or the release key, revoking a member's key.

Each writes an entry of the audit chain (shared.trust.key_history says how verification reads
them). A rotation stages the new key where the current one lives, records the rotation
(signed by both keys) and only then makes the new key current, so a crash leaves either no
rotation (the staged key unused; running it again stages another) or a recorded one whose
key is staged: running it again finishes that one.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.config.errors import RenkeiError
from shared.config.identity import IdentitySettings
from shared.config.settings import fault_point
from shared.ledger import Ledger
from shared.ledger.unit import utcnow
from shared.trust import keys
from shared.trust.anchors import anchor_store, checkpoint
from shared.trust.decisions import Signer
from shared.trust.key_history import (
    RELEASE_ROTATE,
    REVOKE,
    ROTATE,
    key_history,
    revoke_statement,
    rotation_statement,
)
from shared.trust.ledger_keys import ledger_key_store
from shared.trust.release_key import ReleaseRotated, rotate_release_key


class KeyChangeError(RenkeiError, ValueError):
    """A key cannot be rotated or revoked as asked; the message says what to do."""


@dataclass(frozen=True)
class Rotated:
    old: str
    new: str
    store: str  # where the key lives (described)
    anchored: int | None  # the entry the new key anchored (None: no usable anchor store)
    finished: bool  # True: an interrupted rotation was finished, no new key was made


def _anchor_head(
    ledger: Ledger, settings: IdentitySettings, data_root: str, key: object
) -> int | None:
    """Anchor the chain's head with ``key`` (the rotation is done whatever happens here:
    a store that fails is a warning, and the next write or `renkei audit anchor` anchors)."""
    entries = ledger.audit.entries()
    try:
        store = anchor_store(settings, data_root)
        store.append(checkpoint(key, entries[-1].id, entries[-1].hash))
    except Exception as e:  # no usable store, an unreachable bucket
        print(f"warning: the new ledger key anchored nothing: {e}", file=sys.stderr)
        return None
    return entries[-1].id


def rotate_ledger_key(
    ledger: Ledger, settings: IdentitySettings, data_root: str, actor: str
) -> Rotated:
    """Replace the ledger key with a new one (audited); anchors signed with the old one keep
    verifying, new ones are signed with the new one."""
    store = ledger_key_store(settings, data_root)
    old = store.load()
    old_pub = keys.public_text(old.public_key())
    history = key_history(ledger.audit.entries())
    current = history.current_ledger_key()
    staged = store.staged()
    if staged is not None and current == keys.public_text(staged.public_key()) != old_pub:
        store.promote()  # the rotation was recorded, then the process stopped: finish it
        return Rotated(
            old_pub,
            current,
            store.describe(),
            _anchor_head(ledger, settings, data_root, staged),
            True,
        )
    pinned = settings.ledger_key.public if settings.ledger_key else None
    expected = current or pinned
    if expected is not None and expected != old_pub:
        source = "the chain's last rotation" if current else "roles.yaml identity.ledger_key"
        raise KeyChangeError(
            f"the ledger key in {store.describe()} is {keys.key_id(old_pub)}, but {source} "
            f"names {keys.key_id(expected)}: restore that key before rotating (nothing changed)"
        )
    new = Ed25519PrivateKey.generate()
    new_pub = keys.public_text(new.public_key())
    stmt = rotation_statement(old_pub, new_pub, utcnow().isoformat())
    store.stage(new)
    ledger.audit.append(
        actor,
        ROTATE,
        "ledger",
        {
            "statement": stmt,
            "old_signature": keys.sign(old, stmt),
            "new_signature": keys.sign(new, stmt),
        },
    )
    fault_point("rotate")  # reliability tests: recorded, the new key not yet current
    store.promote()
    return Rotated(
        old_pub, new_pub, store.describe(), _anchor_head(ledger, settings, data_root, new), False
    )


def revoke_key(
    ledger: Ledger,
    settings: IdentitySettings,
    member: str,
    signer: Signer,
    reason: str,
    public: str | None = None,
) -> tuple[str, int]:
    """Revoke ``member``'s key (``public``, else the one roles.yaml lists, else the one they
    last signed with), signed by ``signer``: their signatures of decisions recorded after
    this entry are refused, earlier ones keep verifying. Returns (the key, the entry)."""
    if public is None:
        public = settings.public_keys.get(member)
    if public is None:
        signed = [s for s in ledger.trust.signatures().values() if s.key_name == member]
        public = signed[-1].public_key if signed else None
    if public is None:
        raise KeyChangeError(
            f"{member!r} has no key to revoke: roles.yaml identity.public_keys lists none and "
            "no decision was signed by them (pass --key ed25519:...)"
        )
    try:
        keys.parse_public(public)
    except ValueError as e:
        raise KeyChangeError(f"cannot revoke {public[:20]!r}: {e}") from None
    entries = ledger.audit.entries()
    done = key_history(entries).revocations.get(public)
    if done is not None:
        raise KeyChangeError(
            f"{done.member}'s key {keys.key_id(public)} was revoked at {done.label()} already"
        )
    who = signer.identity.member
    stmt = revoke_statement(member, public, reason, who, utcnow().isoformat())
    details = {
        "member": member,
        "public_key": public,
        "reason": reason,
        "signer": who,
        "signer_key": keys.public_text(signer.key.public_key()),
        "statement": stmt,
        "signature": keys.sign(signer.key, stmt),
    }
    ledger.audit.append(signer.identity.label(), REVOKE, member, details)
    return public, key_history(ledger.audit.entries()).revocations[public].entry


def rotate_release_key_audited(
    ledger: Ledger, settings: IdentitySettings, data_root: str, actor: str
) -> ReleaseRotated:
    """Replace the release key (shared.trust.release_key), the rotation recorded in the audit
    chain before the new key is current: its statement names both public keys, signed by
    both, so `renkei audit verify` shows who changed the key that signs served bundles, when,
    and that the new key was handed over by the old one."""

    def record(stmt: dict, old_signature: str, new_signature: str) -> int:
        details = {"statement": stmt, "old_signature": old_signature}
        ledger.audit.append(
            actor, RELEASE_ROTATE, "release", details | {"new_signature": new_signature}
        )
        return ledger.audit.entries()[-1].id

    return rotate_release_key(settings, data_root, record, utcnow().isoformat())
