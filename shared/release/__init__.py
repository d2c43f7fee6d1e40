"""Release: approvals by the right roles, four eyes, promotion and rollback of aliases.

The rules are enforced here, not in the CLI or the app, so every way in is held to them:
- an approver must hold a role the approval policy (config/roles.yaml) requires;
- nobody approves or rejects a version they trained or registered (four eyes);
- every approval and rejection carries a comment and lands in the audit chain;
- only a version registered as ``candidate`` (every gate passed) can be promoted;
- production needs an approval from every required role and no rejection;
- promoting and rolling back need a role Responsible or Accountable for Release or Deploy;
- a rollback obeys the same rules as a promotion for the version it goes back to;
- an alias only moves onto a bundle that loads and matches its recorded sha256 and versions
  (bundles are content-addressed and never rewritten).
Each refusal names the rule that refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.config import ProjectConfig, RolesConfig, RulesConfig
from shared.data import storage
from shared.guard import Envelope, GuardedModel
from shared.guard.bundle import (
    BundleError,
    build_bundle,
    bundle_uri,
    digest,
    load_deployed,
    load_verified,
    rules_version,
)
from shared.ledger import (
    AliasMoveRecord,
    ApprovalRecord,
    DeploymentRecord,
    Ledger,
    LedgerError,
    ModelVersionRecord,
)
from shared.training import TrainingError, load_artifacts
from shared.training.families import ARTIFACT_FILES

ALIASES = ("staging", "production")
RELEASE_STAGES = ("Release", "Deploy")


class ReleaseRefused(PermissionError):
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


def _model(ledger: Ledger, version: str) -> ModelVersionRecord:
    try:
        return ledger.model(version)
    except LedgerError as e:
        raise ReleaseRefused("unknown_version", str(e)) from None


def approval_status(ledger: Ledger, roles: RolesConfig, version: str) -> ApprovalStatus:
    m = _model(ledger, version)
    approved: dict[str, str] = {}
    rejections = []
    for a in ledger.approvals(m.version):
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
    signer: Any = None,
) -> ApprovalRecord:
    """Approve or reject ``version`` as ``user`` (in ``role``, or the first eligible one);
    ``signer`` (shared.trust.decisions.Signer) signs the decision."""
    if decision not in ("approve", "reject"):
        raise ValueError("decision must be 'approve' or 'reject'")
    m = _model(ledger, version)
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
    rec = ledger.add_approval(m.version, user, (open_roles or mine)[0], decision, comment.strip())
    if signer is not None:
        signer.sign_approval(ledger, m, rec)
    return rec


def can_release(roles: RolesConfig, user: str) -> bool:
    held = set(roles.roles_of(user))
    for stage in RELEASE_STAGES:
        entry = roles.raci.get(stage)
        if entry and held.intersection(entry.R + entry.A):
            return True
    return False


def _release_roles(roles: RolesConfig) -> str:
    names = []
    for stage in RELEASE_STAGES:
        entry = roles.raci.get(stage)
        if entry:
            names += entry.R + entry.A
    return ", ".join(sorted(set(names)))


def _release_rules(
    ledger: Ledger, roles: RolesConfig, m: ModelVersionRecord, alias: str, user: str, verb: str
) -> None:
    """The rules every move of an alias obeys (promotion and rollback alike)."""
    if alias not in ALIASES:
        raise ReleaseRefused("unknown_alias", f"alias must be one of {ALIASES}")
    if not can_release(roles, user):
        raise ReleaseRefused(
            "missing_role", f"{user} may not {verb}: needs one of {_release_roles(roles)}"
        )
    if m.status != "candidate":
        failing = ", ".join(m.failing_gates) or "none"
        raise ReleaseRefused(
            "failed_gate",
            f"{m.version} is '{m.status}', not a candidate that passed every gate "
            f"(failed gates: {failing})",
        )
    if alias == "production":
        status = approval_status(ledger, roles, m.version)
        if status.rejections:
            who = ", ".join(f"{r.actor} ({r.role})" for r in status.rejections)
            raise ReleaseRefused("rejected_in_review", f"{m.version} was rejected by {who}")
        if status.missing:
            raise ReleaseRefused(
                "missing_approvals",
                f"{m.version} still needs approval from: {', '.join(status.missing)}",
            )
        from shared.trust.decisions import approval_problems

        problems = approval_problems(ledger, roles.identity, m)
        if problems:
            raise ReleaseRefused("signed_approvals", "; ".join(problems))


def _verified(load: Callable[[], GuardedModel]) -> GuardedModel:
    """Load and verify a bundle before an alias moves onto it; refuse with the rule's name."""
    try:
        return load()
    except BundleError as e:
        raise ReleaseRefused("bundle_verified", str(e)) from None


def promote(
    ledger: Ledger,
    roles: RolesConfig,
    cfg: ProjectConfig,
    rules: RulesConfig,
    version: str,
    alias: str,
    user: str,
    reason: str,
    commit: str | None,
    signer: Any = None,
) -> AliasMoveRecord:
    """Move ``alias`` to ``version`` behind the current rules, building its bundle.

    The bundle is stored under its own sha256 (an existing bundle is never rewritten),
    loaded and verified with the active project config before the alias moves.
    """
    m = _model(ledger, version)
    _release_rules(ledger, roles, m, alias, user, "promote")
    bundle = bundle_for(ledger, cfg, rules, m, commit)
    sha = digest(bundle)
    uri = bundle_uri(cfg.storage.data_root, m.version, sha)
    storage.write_once(uri, bundle)
    rv = rules_version(rules, commit)
    guarded = _verified(
        lambda: load_verified(uri, sha, m.version, rv, f"the new bundle of {m.version}")
    )
    if guarded.cfg != cfg:
        raise ReleaseRefused(
            "bundle_verified", f"the bundle at {uri} does not hold the active project config"
        )

    def check(current: str | None) -> None:
        if current == m.version:
            raise ReleaseRefused("already_there", f"{alias} already serves {m.version}")

    move = ledger.move_alias(
        alias,
        m.version,
        user,
        reason or f"promote {m.version} to {alias}",
        "promote",
        deployment={
            "rules_hash": rules.rules_hash(),
            "rules_version": rv,
            "code_commit": commit,
            "bundle_uri": uri,
            "bundle_sha256": sha,
            "created_by": user,
        },
        check=check,
    )
    if signer is not None:
        signer.sign_move(ledger, m, move, sha)
    return move


def rollback(
    ledger: Ledger,
    roles: RolesConfig,
    user: str,
    alias: str = "production",
    reason: str = "",
    signer: Any = None,
) -> AliasMoveRecord:
    """Move ``alias`` back to the version it served before the current one.

    The same release rules as a promotion hold for the version rolled back to (role, gates,
    approvals, no rejection), and its deployment's bundle must load and verify.
    """
    if not can_release(roles, user):
        raise ReleaseRefused(
            "missing_role", f"{user} may not roll back: needs one of {_release_roles(roles)}"
        )

    stack: list[str] = []
    for move in ledger.alias_history(alias):
        if move.action == "promote":
            stack.append(move.version)
        elif stack:
            stack.pop()
    if len(stack) < 2:
        raise ReleaseRefused("nothing_to_roll_back", f"{alias} has no earlier version")
    serving, target = stack[-1], stack[-2]
    _release_rules(ledger, roles, _model(ledger, target), alias, user, "roll back")
    dep = ledger.latest_deployment(target, alias)
    if dep is None:
        raise ReleaseRefused("bundle_verified", f"{target} was never deployed as {alias!r}")
    _verified(lambda: load_deployed(dep))

    def check(current: str | None) -> None:  # inside the lock: nobody moved it meanwhile
        if current != serving:
            raise ReleaseRefused("moved_meanwhile", f"{alias} moved while rolling back")

    move = ledger.move_alias(
        alias, target, user, reason or f"roll back {alias}", "rollback", check=check
    )
    if signer is not None:
        signer.sign_move(ledger, _model(ledger, target), move, dep.bundle_sha256)
    return move


def bundle_for(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    m: ModelVersionRecord,
    commit: str | None,
) -> bytes:
    """Build the bundle of a registered version with its run's baseline and envelope."""
    import json

    base = next(
        (x for x in ledger.models() if x.flow_run == m.flow_run and x.family == "baseline"), None
    )
    if base is None:
        raise ReleaseRefused("no_baseline", f"the run that trained {m.version} has no baseline")
    model_files = load_artifacts(m.artifact_uri, ARTIFACT_FILES[m.family])
    base_files = load_artifacts(base.artifact_uri, ARTIFACT_FILES["baseline"])
    envelope = Envelope.from_dict(
        json.loads(load_artifacts(m.artifact_uri, ["envelope.json"])["envelope.json"])
    )
    return build_bundle(model_files, base_files, cfg, rules, envelope, m.version, m.family, commit)


def load_alias(
    ledger: Ledger, alias: str = "production"
) -> tuple[DeploymentRecord, GuardedModel] | None:
    """The deployment behind ``alias`` and its guarded model, or None if nothing is there."""
    dep = ledger.alias(alias)
    if dep is None:
        return None
    return dep, load_deployed(dep)


def champion_metrics(
    ledger: Ledger, holdout: Any, cfg: ProjectConfig
) -> tuple[str, dict[str, float]] | None:
    """The production model's metrics on a holdout (the champion a challenger must beat)."""
    from shared.training.metrics import evaluate

    dep = ledger.alias("production")
    if dep is None:
        return None
    try:
        p = load_deployed(dep).model.predict(holdout)
    except (BundleError, ValueError, KeyError) as e:
        raise TrainingError(
            f"the production version {dep.version} cannot be scored on this holdout, so it "
            f"cannot be compared: {e}"
        ) from None
    y = holdout[cfg.target].to_numpy(dtype=float)
    return dep.version, evaluate(cfg.task, y, p, cfg.training.threshold)
