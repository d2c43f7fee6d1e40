"""What the app shows about trust: signature and anchor status per audit entry, who signed
each approval and whether it verifies; and the signer the app acts with."""

from __future__ import annotations

from typing import Any

from shared.config.identity import IdentitySettings
from shared.ledger import Ledger
from shared.trust import keys
from shared.trust.anchors import AnchorKey, anchor_store
from shared.trust.decisions import Signer, approval_fields, signature_problem, signer_for
from shared.trust.entry_seals import entry_seals
from shared.trust.identity import Identity, IdentityStatus, os_login
from shared.trust.witness import check_anchors, service_writes

SIGNED_ACTIONS = {"model.approve": "approval", "model.reject": "approval"}


def _status(settings: IdentitySettings, sig: Any, fields: dict[str, Any], what: str) -> str:
    if sig is None:
        return "unsigned"
    problem = signature_problem(settings, sig, fields, what)
    if problem:
        return f"FAILS: {problem}"
    return "verified" if sig.identity == IdentityStatus.VERIFIED else "unverified (dev mode)"


def approval_signatures(
    ledger: Ledger, settings: IdentitySettings, version: str
) -> list[dict[str, Any]]:
    """Each approval or rejection of ``version``: who, who signed, how, and whether it
    verifies against roles.yaml."""
    sigs = ledger.trust.signatures("approval")
    rows = []
    for a in ledger.releases.approvals(version):
        sig = sigs.get(("approval", a.id))
        via = "-"
        if sig is not None:
            via = f"{sig.provider} login {sig.login}, key {sig.key_name}"
        rows.append(
            {
                "decision": a.decision,
                "by": a.actor,
                "role": a.role,
                "signed by": sig.signer if sig else "-",
                "identity": via,
                "signature": _status(settings, sig, approval_fields(a), f"approval {a.id}"),
            }
        )
    return rows


def audit_trust(ledger: Ledger, settings: IdentitySettings, data_root: str) -> dict[str, Any]:
    """Per audit entry id: its signature status (decisions) and anchor status; and the
    anchors' problems."""
    entries = ledger.audit.entries()
    checkpoints = anchor_store(settings, data_root).read()
    check = check_anchors(entries, checkpoints, settings, service_writes(ledger, settings))
    sigs = ledger.trust.signatures()
    sealed, _ = entry_seals(ledger, settings, entries)  # the app's writes (feedback, ...)
    # decisions are paired with their audit entries in order (audit verify is the authority)
    approvals = iter(ledger.releases.approvals())
    moves = iter(ledger.releases.history())
    signature: dict[int, str] = {}
    anchor: dict[int, str] = {}
    for e in entries:
        anchor[e.id] = "anchored" if e.id <= check.last_anchored else "not yet anchored"
        if e.action in SIGNED_ACTIONS:
            a = next(approvals, None)
            if a is not None:
                sig = sigs.get(("approval", a.id))
                signature[e.id] = _status(settings, sig, approval_fields(a), f"approval {a.id}")
        elif e.action.startswith("alias."):
            m = next(moves, None)
            if m is not None:
                sig = sigs.get(("alias_move", m.id))
                fields = {"action": m.action, "alias": m.alias, "signer": m.actor}
                signature[e.id] = _status(settings, sig, fields, f"{m.action} {m.id}")
        if e.id not in signature and e.id in sealed:
            signature[e.id] = f"sealed by the {sealed[e.id]} service key"
    return {
        "signature": signature,
        "anchor": anchor,
        "problems": check.problems,
        "anchors": check.anchors,
    }


def app_signer(
    settings: IdentitySettings,
    data_root: str,
    rules_hash: str,
    user: str,
    oidc: dict[str, str] | None = None,
) -> Signer:
    """The app's signer: for an OIDC user, the app's service key signs on their behalf
    (subject and issuer recorded); in dev mode, the chosen member's demo key, unverified."""
    if oidc is not None:
        member = settings.member_of(user) or user
        ident = Identity(
            member, user, "oidc", IdentityStatus.VERIFIED, oidc.get("iss"), oidc.get("sub")
        )
        return signer_for(ident, settings, data_root, rules_hash, key_name="app")
    ident = Identity(user, os_login(), "dev", IdentityStatus.UNVERIFIED)
    return signer_for(ident, settings, data_root, rules_hash)


def app_anchor_key(settings: IdentitySettings, signer: Signer) -> AnchorKey | None:
    """The key the app seals and anchors ``signer``'s writes with: its service key, when
    that key signs for a signed-in (OIDC) user and roles.yaml identity.service_keys lists
    it; None otherwise (dev mode's demo keys: the ledger key anchors, nothing is sealed)."""
    if signer.identity.provider != "oidc":
        return None
    public = keys.public_text(signer.key.public_key())
    if settings.service_keys.get(signer.key_name) != public:
        return None
    return AnchorKey(signer.key_name, signer.key, service=True)
