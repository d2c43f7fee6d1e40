"""Release: a shadow challenger beside an alias (``renkei shadow VERSION --alias production``).

Attaching is a signed, audited alias move by a Release/Deploy role onto a verified bundle
of a candidate (every gate passed) under ``<alias>-shadow``; ``renkei shadow --off`` takes
it off. While attached, batch scoring (shared.operate.scoring.with_shadow) and the online
service (in the capture writer process, never on the request's path) compute its guarded
answer beside production's and record it; only production's is ever returned. How the two
compare on arrived labels is the monitor's (shared.monitor.shadow).
"""

from __future__ import annotations

from shared.config import ProjectConfig, RolesConfig, RulesConfig
from shared.ledger import AliasAction, AliasMoveRecord, DeploymentRecord, Ledger, LedgerError
from shared.ledger.releases import shadow_alias
from shared.release.approvals import ReleaseRefused, registered_model
from shared.release.promotion import ALIASES, can_release, move_onto, new_deployment, release_roles
from shared.trust.decisions import Signer


def _may(roles: RolesConfig, user: str, alias: str, verb: str) -> None:
    if alias not in ALIASES:
        raise ReleaseRefused("unknown_alias", f"alias must be one of {ALIASES}")
    if not can_release(roles, user):
        raise ReleaseRefused(
            "missing_role", f"{user} may not {verb}: needs one of {release_roles(roles)}"
        )


def attach(
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
    """Attach candidate ``version`` as the shadow challenger of ``alias``."""
    _may(roles, user, alias, "attach a shadow challenger")
    m = registered_model(ledger, version)
    if m.status != "candidate":
        raise ReleaseRefused(
            "failed_gate",
            f"{m.version} is '{m.status}', not a candidate that passed every gate",
        )
    serving = ledger.releases.alias(alias)
    if serving is not None and serving.version == m.version:
        raise ReleaseRefused("already_there", f"{alias} already serves {m.version}")
    deployment = new_deployment(ledger, cfg, rules, m, commit, user, roles.identity)

    why = reason or f"shadow {m.version} beside {alias}"
    there = f"{m.version} already shadows {alias}"
    name = shadow_alias(alias)
    return move_onto(ledger, name, m, user, why, AliasAction.SHADOW, deployment, there, signer)


def detach(
    ledger: Ledger,
    roles: RolesConfig,
    alias: str,
    user: str,
    reason: str,
    signer: Signer | None = None,
) -> AliasMoveRecord:
    """Take the shadow challenger of ``alias`` off."""
    _may(roles, user, alias, "detach a shadow challenger")
    shadow = shadow_of(ledger, alias)
    seal = None
    if signer is not None and shadow is not None:
        seal = signer.move_seal(registered_model(ledger, shadow.version), None)
    try:
        return ledger.releases.detach_shadow(alias, user, reason or f"shadow of {alias} off", seal)
    except LedgerError as e:
        raise ReleaseRefused("no_shadow", str(e)) from None


def detach_promoted(
    ledger: Ledger,
    roles: RolesConfig,
    alias: str,
    version: str,
    user: str,
    signer: Signer | None = None,
) -> AliasMoveRecord | None:
    """Detach the shadow of ``alias`` when it is ``version``, just promoted there (it would
    compare the version with itself); the move, None when the shadow is another version."""
    shadow = shadow_of(ledger, alias)
    if shadow is None or shadow.version != version:
        return None
    why = f"{version} promoted to {alias}: no longer its own challenger"
    return detach(ledger, roles, alias, user, why, signer)


def shadow_of(ledger: Ledger, alias: str) -> DeploymentRecord | None:
    """The shadow challenger's deployment beside ``alias``, or None."""
    return ledger.releases.alias(shadow_alias(alias))
