"""Signed decisions: approvals, rejections, promotions, rollbacks and shadow moves.

Each decision signs a canonical statement (action, model version and its artifact digest,
rules hash, alias, time, signer, ...) with the signer's Ed25519 key; the ledger keeps the
statement and signature (table ``signatures``), written in the decision's own transaction
(the ledger's write calls the signer's ``seal``): there is no decision without its signature. A production promotion verifies every
approval of the version against the public keys in roles.yaml before the alias moves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.config.identity import IdentitySettings
from shared.config.settings import fault_point
from shared.ledger import AliasMoveRecord, ApprovalRecord, Ledger, LedgerError, ModelVersionRecord
from shared.ledger.seals import ENTRY, EntrySeal, NewSignature, Seal, entry_statement
from shared.ledger.trust import SignatureRecord
from shared.ledger.unit import utcnow
from shared.trust import keys
from shared.trust.identity import Identity, IdentityStatus
from shared.trust.key_history import KeyHistory, ledger_decision_entries, revocation_problem


def artifact_digest(m: ModelVersionRecord) -> str:
    """sha256 over the model version's artifact files (names and bytes, sorted by name)."""
    from shared.model.families import ARTIFACT_FILES
    from shared.training import load_artifacts

    h = hashlib.sha256()
    for name, data in sorted(load_artifacts(m.artifact_uri, ARTIFACT_FILES[m.family]).items()):
        h.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class Signer:
    """An identity and the private key it signs with (loaded before anything is written)."""

    identity: Identity
    key_name: str
    key: Ed25519PrivateKey
    rules_hash: str

    def _signature(self, kind: str, ref_id: int, statement: dict[str, Any]) -> NewSignature:
        fault_point("sign")  # reliability tests: between the decision's rows and its signature
        stmt = {
            **statement,
            "signer": self.identity.member,
            "identity": str(self.identity.status),
            "provider": self.identity.provider,
            "login": self.identity.login,
            "rules_hash": self.rules_hash,
            "time": utcnow().isoformat(),
        }
        if self.identity.issuer:
            stmt["oidc"] = {"issuer": self.identity.issuer, "subject": self.identity.subject}
        return NewSignature(
            kind,
            ref_id,
            signer=self.identity.member,
            identity=str(self.identity.status),
            provider=self.identity.provider,
            login=self.identity.login,
            key_name=self.key_name,
            statement=stmt,
            signature=keys.sign(self.key, stmt),
            public_key=keys.public_text(self.key.public_key()),
        )

    def approval_seal(self, m: ModelVersionRecord) -> Seal:
        """The signature of an approval or rejection of ``m``, for the ledger to write in
        the decision's own transaction (the artifact is hashed before it starts)."""
        digest = artifact_digest(m)

        def seal(a: ApprovalRecord) -> NewSignature:
            return self._signature(
                "approval",
                a.id,
                {
                    "action": a.decision,
                    "version": a.version,
                    "artifact_sha256": digest,
                    "role": a.role,
                    "comment": a.comment,
                    "alias": "production",
                },
            )

        return seal

    def move_seal(self, m: ModelVersionRecord, bundle_sha256: str | None) -> Seal:
        """The signature of an alias move onto ``m`` (promotion, rollback, shadow attach or
        detach), for the ledger to write in the move's own transaction."""
        digest = artifact_digest(m)

        def seal(move: AliasMoveRecord) -> NewSignature:
            if move.version != m.version:  # inside the lock: the alias moved meanwhile
                raise LedgerError(
                    f"{move.alias} moved to {move.version} while {m.version} was being "
                    "signed: nothing recorded; try again"
                )
            return self._signature(
                "alias_move",
                move.id,
                {
                    "action": move.action,
                    "version": move.version,
                    "previous": move.previous_version,
                    "artifact_sha256": digest,
                    "alias": move.alias,
                    "deployment": move.deployment_id,
                    "bundle_sha256": bundle_sha256,
                    "reason": move.reason,
                },
            )

        return seal

    def entry_seal(self) -> EntrySeal:
        """The signature of each audit entry a write appends for this identity (the app's
        writes for a signed-in user: feedback and its interval updates, a decision's entry,
        the note beside it), naming the entry: shared.ledger.seals.sealing_entries."""

        def seal(entry: Any) -> NewSignature:
            return self._signature(ENTRY, entry.id, entry_statement(entry))

        return seal

    def sign_approval(self, ledger: Ledger, m: ModelVersionRecord, a: ApprovalRecord) -> None:
        """Sign an approval already recorded, in a transaction of its own (tests forge a
        signature with it; decisions are signed in their own transaction: approval_seal)."""
        ledger.trust.add(self.approval_seal(m)(a))


def signer_for(
    identity: Identity,
    settings: IdentitySettings,
    data_root: str,
    rules_hash: str,
    key_name: str | None = None,
) -> Signer:
    """The signer for ``identity``: its key from the key folder (dev mode: created there
    for the demo member on first use); ``key_name`` for a service key (the app)."""
    name = key_name or identity.member
    folder = keys.key_dir(settings.dev_mode, data_root)
    if settings.dev_mode:
        keys.init_key(folder, name)
    return Signer(identity, name, keys.load_key(folder, name), rules_hash)


def _expected_key(settings: IdentitySettings, sig: SignatureRecord) -> str | None:
    if sig.provider == "oidc":
        return settings.service_keys.get(sig.key_name)
    if sig.identity == IdentityStatus.VERIFIED:
        return settings.public_keys.get(sig.key_name)
    return sig.public_key  # dev mode: the key made for the demo member, not a trust root


def signature_problem(
    settings: IdentitySettings,
    sig: SignatureRecord | None,
    expected: dict[str, Any],
    what: str,
    history: KeyHistory | None = None,
    position: int | None = None,
) -> str | None:
    """Why the signature of ``what`` does not hold (None: it verifies). ``expected``: the
    statement fields the state row says must have been signed. ``history``: the keys'
    history in the chain, ``position``: the audit entry of the decision (a key revoked
    before it refuses it; one revoked after it verifies it: shared.trust.key_history)."""
    if sig is None:
        return f"{what} carries no signature"
    refused, revoked = revocation_problem(history, sig, position, what, settings)
    if refused:
        return refused
    key = revoked or _expected_key(settings, sig)
    if key is None:
        hint = ""
        if sig.identity == IdentityStatus.VERIFIED:
            hint = (
                f" (a key taken out of roles.yaml: `renkei keys revoke {sig.key_name}` records "
                "when, and its earlier signatures verify again)"
            )
        return f"{what}: {sig.key_name!r} has no public key in roles.yaml identity{hint}"
    if sig.identity != IdentityStatus.VERIFIED and not settings.dev_mode:
        return f"{what} was signed by an unverified identity (dev mode) and dev mode is off"
    if not keys.verify(key, sig.statement, sig.signature):
        return f"{what}: the signature does not verify against {sig.key_name}'s public key"
    for field, value in expected.items():
        if sig.statement.get(field) != value:
            return (
                f"{what}: the ledger says {field}={value!r} but the signed statement says "
                f"{sig.statement.get(field)!r}"
            )
    return None


def approval_fields(a: ApprovalRecord) -> dict[str, Any]:
    return {
        "action": a.decision,
        "version": a.version,
        "signer": a.actor,
        "role": a.role,
        "comment": a.comment,
    }


def approval_problems(
    ledger: Ledger, settings: IdentitySettings, m: ModelVersionRecord
) -> list[str]:
    """Every approval or rejection of ``m`` whose signature fails. Unsigned ones are
    accepted only in dev mode; the artifact must still be the one that was approved."""
    sigs = ledger.trust.signatures("approval")
    history, positions = ledger_decision_entries(ledger)
    digest: str | None = None
    problems = []
    for a in ledger.releases.approvals(m.version):
        sig = sigs.get(("approval", a.id))
        if sig is None and settings.dev_mode:
            continue
        if sig is not None and digest is None:
            digest = artifact_digest(m)
        fields = {**approval_fields(a), "artifact_sha256": digest}
        what = f"approval {a.id} ({a.decision} of {a.version} by {a.actor})"
        p = signature_problem(
            settings, sig, fields, what, history, positions.get(("approval", a.id))
        )
        if p:
            problems.append(p)
    return problems
