"""Operate: a shadow challenger beside an alias (``renkei shadow VERSION --alias production``).

Attaching is a signed, audited alias move by a Release/Deploy role onto a verified bundle
of a candidate (every gate passed) under ``<alias>-shadow``; ``renkei shadow --off`` takes
it off. While attached, batch scoring (:func:`with_shadow`, called from score_partition)
and the online service (in the capture writer process, never on the request's path)
compute its guarded answer beside production's and record it; only production's is
ever returned.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from shared.config import ProjectConfig, RolesConfig, RulesConfig
from shared.guard import GuardedModel
from shared.guard.bundle import load_deployed
from shared.ledger import AliasAction, AliasMoveRecord, DeploymentRecord, Ledger, LedgerError
from shared.ledger.shadows import shadow_alias
from shared.release import ALIASES, ReleaseRefused, can_release
from shared.release.approvals import registered_model
from shared.release.promotion import move_onto, new_deployment, release_roles
from shared.trust.decisions import Signer

SHADOW_COLUMNS = [
    "shadow_version",
    "shadow_prediction",
    "shadow_predicted_class",
    "shadow_decision",
    "shadow_reasons",
]


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
    deployment = new_deployment(ledger, cfg, rules, m, commit, user)

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
        return ledger.shadows.detach(alias, user, reason or f"shadow of {alias} off", seal)
    except LedgerError as e:
        raise ReleaseRefused("no_shadow", str(e)) from None


def shadow_of(ledger: Ledger, alias: str) -> DeploymentRecord | None:
    """The shadow challenger's deployment beside ``alias``, or None."""
    return ledger.releases.alias(shadow_alias(alias))


@lru_cache(maxsize=4)
def _loaded(dep: DeploymentRecord) -> GuardedModel:
    return load_deployed(dep)


def with_shadow(
    out: pd.DataFrame, raw: pd.DataFrame, shadow: DeploymentRecord | None
) -> pd.DataFrame:
    """``out`` (production's guarded answers for ``raw``) with the shadow's beside them."""
    if shadow is None:
        return out
    s = _loaded(shadow).predict(raw).reset_index(drop=True)
    extra = pd.DataFrame(
        {
            "shadow_version": s["model_version"],
            "shadow_prediction": s["prediction"],
            "shadow_predicted_class": s["predicted_class"] if "predicted_class" in s else None,
            "shadow_decision": s["decision"],
            "shadow_reasons": s["reasons"],
        }
    )
    extra.index = out.index
    return pd.concat([out, extra], axis=1)
