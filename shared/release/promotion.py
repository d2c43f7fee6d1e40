"""Promotion and rollback: alias moves by Release/Deploy roles onto verified, content-addressed bundles."""

from __future__ import annotations

from collections.abc import Callable

from shared.config import ProjectConfig, RolesConfig, RulesConfig
from shared.config.identity import IdentitySettings
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
from shared.guard.bundle_sign import ReleaseKeys, sign_bundle, signature_uri
from shared.ledger import (
    AliasAction,
    AliasMoveRecord,
    DeploymentRecord,
    Ledger,
    ModelVersionRecord,
    NewDeployment,
)
from shared.model.conformal import CALIBRATION_FILE
from shared.model.families import ARTIFACT_FILES
from shared.training import load_artifacts, load_optional
from shared.trust.decisions import Signer, approval_problems
from shared.trust.keys import KeyError_
from shared.trust.release_key import ReleaseSigner, release_signer

from .approvals import ReleaseRefused, approval_status, registered_model

ALIASES = ("staging", "production")
RELEASE_STAGES = ("Release", "Deploy")


def can_release(roles: RolesConfig, user: str) -> bool:
    held = set(roles.roles_of(user))
    for stage in RELEASE_STAGES:
        entry = roles.raci.get(stage)
        if entry and held.intersection(entry.R + entry.A):
            return True
    return False


def release_roles(roles: RolesConfig) -> str:
    """The roles that may release (for a refusal's message)."""
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
            "missing_role", f"{user} may not {verb}: needs one of {release_roles(roles)}"
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
    signer: Signer | None = None,
) -> AliasMoveRecord:
    """Move ``alias`` to ``version`` behind the current rules, building its bundle
    (:func:`new_deployment`: verified before the alias moves). When ``version`` is the
    shadow challenger of ``alias``, the shadow is detached (signed and audited) rather than
    left comparing the version with itself."""
    m = registered_model(ledger, version)
    _release_rules(ledger, roles, m, alias, user, "promote")
    deployment = new_deployment(ledger, cfg, rules, m, commit, user, roles.identity)
    why = reason or f"promote {m.version} to {alias}"
    there = f"{alias} already serves {m.version}"
    move = move_onto(ledger, alias, m, user, why, AliasAction.PROMOTE, deployment, there, signer)
    from .shadow import detach_promoted

    detach_promoted(ledger, roles, alias, m.version, user, signer)
    return move


def move_onto(
    ledger: Ledger,
    alias: str,
    m: ModelVersionRecord,
    user: str,
    reason: str,
    action: AliasAction,
    deployment: NewDeployment,
    already_there: str,
    signer: Signer | None,
) -> AliasMoveRecord:
    """Point ``alias`` at ``m`` on a new ``deployment`` (refused with ``already_there`` when
    it points there already, seen inside the lock), signed by ``signer``."""

    def check(current: str | None) -> None:
        if current == m.version:
            raise ReleaseRefused("already_there", already_there)

    seal = signer.move_seal(m, deployment.bundle_sha256) if signer is not None else None
    return ledger.releases.move_alias(
        alias, m.version, user, reason, action, deployment=deployment, check=check, seal=seal
    )


def signer_of(identity: IdentitySettings, data_root: str) -> ReleaseSigner:
    """The release key that signs the bundles of promotions and shadow attaches."""
    try:
        return release_signer(identity, data_root)
    except KeyError_ as e:
        raise ReleaseRefused("release_key", str(e)) from None


def new_deployment(
    ledger: Ledger,
    cfg: ProjectConfig,
    rules: RulesConfig,
    m: ModelVersionRecord,
    commit: str | None,
    user: str,
    identity: IdentitySettings,
) -> NewDeployment:
    """Build, sign, store and verify the bundle of ``m`` behind the current rules: the
    deployment an alias moves onto. Stored under its own sha256 (an existing bundle is never
    rewritten) with its OpenSSF signature by the release key beside it, then loaded and
    verified (digest and signature) with the active project config."""
    release = signer_of(identity, cfg.storage.data_root)
    bundle = bundle_for(ledger, cfg, rules, m, commit)
    sha = digest(bundle)
    uri = bundle_uri(cfg.storage.data_root, m.version, sha)
    storage.write_once(uri, bundle)
    storage.write_once(signature_uri(uri), sign_bundle(bundle, release.private_pem))
    rv = rules_version(rules, commit)
    what = f"the new bundle of {m.version}"
    guarded = _verified(lambda: load_verified(uri, sha, m.version, rv, what, release.trusted))
    if guarded.cfg != cfg:
        raise ReleaseRefused(
            "bundle_verified", f"the bundle at {uri} does not hold the active project config"
        )
    return NewDeployment(
        rules_hash=rules.rules_hash(),
        rules_version=rv,
        code_commit=commit,
        bundle_uri=uri,
        bundle_sha256=sha,
        created_by=user,
    )


def rollback(
    ledger: Ledger,
    roles: RolesConfig,
    user: str,
    alias: str = "production",
    reason: str = "",
    signer: Signer | None = None,
    *,
    keys: ReleaseKeys,
) -> AliasMoveRecord:
    """Move ``alias`` back to the version it served before the current one.

    The same release rules as a promotion hold for the version rolled back to (role, gates,
    approvals, no rejection), and its deployment's bundle must load and verify: its digest,
    and its OpenSSF signature by a release key in ``keys``.
    """
    if not can_release(roles, user):
        raise ReleaseRefused(
            "missing_role", f"{user} may not roll back: needs one of {release_roles(roles)}"
        )

    stack: list[str] = []
    for move in ledger.releases.history(alias):
        if move.action == "promote":
            stack.append(move.version)
        elif stack:
            stack.pop()
    if len(stack) < 2:
        raise ReleaseRefused("nothing_to_roll_back", f"{alias} has no earlier version")
    serving, target = stack[-1], stack[-2]
    _release_rules(ledger, roles, registered_model(ledger, target), alias, user, "roll back")
    dep = ledger.releases.latest_deployment(target, alias)
    if dep is None:
        raise ReleaseRefused("bundle_verified", f"{target} was never deployed as {alias!r}")
    _verified(lambda: load_deployed(dep, keys))

    def check(current: str | None) -> None:  # inside the lock: nobody moved it meanwhile
        if current != serving:
            raise ReleaseRefused("moved_meanwhile", f"{alias} moved while rolling back")

    seal = (
        signer.move_seal(registered_model(ledger, target), dep.bundle_sha256)
        if signer is not None
        else None
    )
    move = ledger.releases.move_alias(
        alias, target, user, reason or f"roll back {alias}", "rollback", check=check, seal=seal
    )
    from .shadow import detach_promoted

    detach_promoted(ledger, roles, alias, target, user, signer)
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
        (
            x
            for x in ledger.registry.models()
            if x.flow_run == m.flow_run and x.family == "baseline"
        ),
        None,
    )
    if base is None:
        raise ReleaseRefused("no_baseline", f"the run that trained {m.version} has no baseline")
    model_files = load_artifacts(m.artifact_uri, ARTIFACT_FILES[m.family])
    base_files = load_artifacts(base.artifact_uri, ARTIFACT_FILES["baseline"])
    envelope = Envelope.from_dict(
        json.loads(load_artifacts(m.artifact_uri, ["envelope.json"])["envelope.json"])
    )
    cal = load_optional(m.artifact_uri, CALIBRATION_FILE)  # versions before intervals: none
    return build_bundle(
        model_files, base_files, cfg, rules, envelope, m.version, m.family, commit, cal
    )


def load_alias(
    ledger: Ledger, alias: str = "production", *, keys: ReleaseKeys
) -> tuple[DeploymentRecord, GuardedModel] | None:
    """The deployment behind ``alias`` and its guarded model (its bundle verified: digest,
    and signature by a release key in ``keys``), or None if nothing is there."""
    dep = ledger.releases.alias(alias)
    if dep is None:
        return None
    return dep, load_deployed(dep, keys)
