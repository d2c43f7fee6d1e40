"""Approvals: reviews by the roles the approval policy requires, four eyes, and each version's approval status."""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import RolesConfig
from shared.config.errors import RenkeiError
from shared.ledger import (
    ApprovalRecord,
    Ledger,
    LedgerError,
    ModelVersionRecord,
)
from shared.trust.decisions import Signer


class ReleaseRefused(RenkeiError, PermissionError):
    """A release action was refused; ``rule`` names the rule that refused it."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"refused by rule '{rule}': {message}")


@dataclass(frozen=True)
class ApprovalStatus:
    version: str
    required: list[str]
    approved: dict[str, str]  # role -> who approved
    rejections: list[ApprovalRecord]

    @property
    def missing(self) -> list[str]:
        return [r for r in self.required if r not in self.approved]

    @property
    def complete(self) -> bool:
        return not self.missing and not self.rejections


def registered_model(ledger: Ledger, version: str) -> ModelVersionRecord:
    """The ledger's record of ``version``; an unknown version is refused (ReleaseRefused)."""
    try:
        return ledger.registry.model(version)
    except LedgerError as e:
        raise ReleaseRefused("unknown_version", str(e)) from None


def approval_status(ledger: Ledger, roles: RolesConfig, version: str) -> ApprovalStatus:
    m = registered_model(ledger, version)
    approved: dict[str, str] = {}
    rejections = []
    for a in ledger.releases.approvals(m.version):
        if a.decision == "approve":
            approved.setdefault(a.role, a.actor)
        else:
            rejections.append(a)
    return ApprovalStatus(m.version, list(roles.approval.required_roles), approved, rejections)


def eligible_roles(roles: RolesConfig, user: str) -> list[str]:
    """The required approval roles ``user`` holds."""
    held = set(roles.roles_of(user))
    return [r for r in roles.approval.required_roles if r in held]


def review(
    ledger: Ledger,
    roles: RolesConfig,
    version: str,
    user: str,
    comment: str,
    decision: str = "approve",
    role: str | None = None,
    signer: Signer | None = None,
) -> ApprovalRecord:
    """Approve or reject ``version`` as ``user`` (in ``role``, or the first eligible one);
    ``signer`` (shared.trust.decisions.Signer) signs the decision in its own transaction."""
    if decision not in ("approve", "reject"):
        raise ValueError("decision must be 'approve' or 'reject'")
    m = registered_model(ledger, version)
    if not comment or not comment.strip():
        raise ReleaseRefused("comment_required", "an approval or rejection needs a comment")
    if m.status != "candidate":
        failing = ", ".join(m.failing_gates) or "none"
        raise ReleaseRefused(
            "failed_gate" if m.status == "rejected" else "not_a_candidate",
            f"{m.version} is '{m.status}', not a candidate (failed gates: {failing})",
        )
    mine = eligible_roles(roles, user)
    if role is not None:
        if role not in roles.approval.required_roles:
            raise ReleaseRefused("missing_role", f"the approval policy does not ask for {role!r}")
        if role not in mine:
            raise ReleaseRefused("missing_role", f"{user} does not hold the role {role!r}")
        mine = [role]
    if not mine:
        raise ReleaseRefused(
            "missing_role",
            f"{user} holds none of the roles that approve a release "
            f"({', '.join(roles.approval.required_roles)})",
        )
    if user == m.trained_by:
        raise ReleaseRefused(
            "four_eyes", f"{user} trained and registered {m.version} and cannot review it"
        )
    status = approval_status(ledger, roles, m.version)
    open_roles = [r for r in mine if r not in status.approved]
    if decision == "approve" and not open_roles:
        raise ReleaseRefused(
            "already_approved", f"{m.version} is already approved for {', '.join(mine)}"
        )
    seal = signer.approval_seal(m) if signer is not None else None
    return ledger.releases.add_approval(
        m.version, user, (open_roles or mine)[0], decision, comment.strip(), seal=seal
    )
