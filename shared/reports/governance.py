"""Roles and maturity: the RACI matrix, role gaps, who did what, the drafted message and the maturity frame."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pandas as pd

from shared.config import LIFECYCLE_STAGES, ML_LENS_ROLES, PHASES, RolesConfig
from shared.ledger import Ledger, RunStatus

# roles a team needs by the time it reaches each phase (cumulative), after SEED_NOTES.md:
# the ML team names Business Analyst, Data Scientist and Data Analyst first, then the
# operational roles as it moves to production; the product manager and architect join early
PHASE_ROLES: dict[str, tuple[str, ...]] = {
    "Learning": ("Business Analyst", "Product Manager"),
    "Prototyping": ("Data Scientist", "Data Analyst"),
    "Experimenting": ("Data Engineer", "Domain Expert", "Architect"),
    "Building": ("MLOps Engineer", "Data Architect", "AI/ML Architect"),
    "Deploying": ("ML Engineer", "ML Operator", "Model Risk Manager", "IT Auditor"),
    "Scaling": ("Software Engineer", "DevOps Engineer", "System Admin", "Operator"),
}


def raci_matrix(roles: RolesConfig) -> pd.DataFrame:
    """Lifecycle stages by role: the RACI letters each role holds."""
    used = [
        r
        for r in ML_LENS_ROLES
        if any(r in getattr(e, k) for e in roles.raci.values() for k in "RACI")
    ]
    rows = []
    for stage in LIFECYCLE_STAGES:
        e = roles.raci.get(stage)
        row = {"stage": stage}
        for role in used:
            row[role] = "".join(k for k in "RACI" if e and role in getattr(e, k))
        rows.append(row)
    return pd.DataFrame(rows).set_index("stage")


@dataclass(frozen=True)
class RoleGaps:
    unaccountable_stages: list[str]  # no Accountable role with a member
    missing_for_phase: list[str]  # roles the phase needs that nobody holds
    multi_role_people: dict[str, list[str]]  # people holding 3 or more roles
    unfilled_roles: list[str]


def role_gaps(roles: RolesConfig) -> RoleGaps:
    filled = {r for r, people in roles.members.items() if people}
    unaccountable = [
        s
        for s in LIFECYCLE_STAGES
        if not (roles.raci.get(s) and filled.intersection(roles.raci[s].A))
    ]
    needed: list[str] = []
    for phase in PHASES[: PHASES.index(roles.phase) + 1]:
        needed += PHASE_ROLES[phase]
    people: dict[str, list[str]] = {}
    for role, members in roles.members.items():
        for p in members:
            people.setdefault(p, []).append(role)
    return RoleGaps(
        unaccountable,
        [r for r in needed if r not in filled],
        {p: rs for p, rs in sorted(people.items()) if len(rs) >= 3},
        [r for r in ML_LENS_ROLES if r not in filled],
    )


def who_did_what(ledger: Ledger) -> pd.DataFrame:
    counts = Counter((e.actor, e.action) for e in ledger.audit.entries())
    return pd.DataFrame(
        [{"actor": a, "action": k, "times": n} for (a, k), n in sorted(counts.items())],
        columns=["actor", "action", "times"],
    )


def draft_message(roles: RolesConfig, ledger: Ledger) -> str:
    """The message SEED_NOTES.md recommends sending to the product manager and architect."""
    gaps = role_gaps(roles)
    models = ledger.registry.models()
    prod = ledger.releases.alias("production")
    best = next((m for m in models if m.status == "candidate"), None)
    i = PHASES.index(roles.phase)
    next_phase = PHASES[min(i + 1, len(PHASES) - 1)]
    learned = [
        f"- {len(ledger.datasets.all())} validated dataset version(s), quarantine with reasons"
    ]
    if best:
        km = best.key_metric
        learned.append(
            f"- best candidate {best.version} ({best.family}): {km} {best.metrics[km]:.3g} "
            f"vs the rule-based baseline {best.baseline_metrics.get(km, float('nan')):.3g}"
        )
    learned.append(
        f"- in production: {prod.version} behind rules {prod.rules_version}"
        if prod
        else "- nothing in production yet"
    )
    missing = gaps.missing_for_phase or ["none"]
    return "\n".join(
        [
            "# From the ML team: where we are and what we need",
            "",
            f"**Phase:** {roles.phase}. **Proposed goal:** reach *{next_phase}*.",
            "",
            "## What we learned",
            *learned,
            "",
            "## Roles still missing",
            *(f"- {r}" for r in missing),
            *(
                f"- no one accountable for: {', '.join(gaps.unaccountable_stages)}"
                for _ in [0]
                if gaps.unaccountable_stages
            ),
            "",
            "## Infrastructure still missing",
            "- scheduled production flows (Step Functions) and a shared PostgreSQL ledger",
            "- monitoring of drift and delayed labels, with retraining",
            "",
            "## Next step",
            f"A first meeting of product manager, architect and the ML team to agree the goal past "
            f"{roles.phase}, the revenue or saving per model, and who takes the missing roles.",
        ]
    )


def maturity(ledger: Ledger, roles: RolesConfig) -> pd.DataFrame:
    """Facts from the ledger against the maturity table (early / middle / late)."""
    runs = ledger.runs.all()
    ok = [r for r in runs if r.status == RunStatus.SUCCEEDED]
    facts = [
        (
            "data",
            "automated data pipeline (ingest flow runs)",
            sum(r.pathspec.startswith("IngestFlow/") for r in ok) >= 2,
        ),
        (
            "training",
            "automated training pipeline (train flow runs)",
            any(r.pathspec.startswith("TrainFlow/") for r in ok),
        ),
        (
            "training",
            "scheduled training (production branch runs)",
            any((r.branch or "").startswith("prod") for r in ok),
        ),
        ("deploy", "approvals in use", bool(ledger.releases.approvals())),
        ("deploy", "guarded deployments", bool(ledger.releases.deployments())),
        ("deploy", "batch scoring with lineage", bool(ledger.operations.scoring_batches())),
        (
            "monitoring",
            "monitoring runs",
            any(r.pathspec.startswith("MonitorFlow/") for r in ok),
        ),
        (
            "team",
            "no lifecycle stage without an accountable person",
            not role_gaps(roles).unaccountable_stages,
        ),
    ]
    frame = pd.DataFrame(facts, columns=["area", "fact", "present"])
    return frame


def maturity_level(frame: pd.DataFrame) -> str:
    share = float(frame["present"].mean()) if len(frame) else 0.0
    return (
        "late (Scaling)"
        if share >= 0.85
        else "middle (Building-Deploying)"
        if share >= 0.4
        else "early (Learning-Experimenting)"
    )
