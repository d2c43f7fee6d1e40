"""What the app shows, computed from the ledger and the configs. Pages only display it.

Every frame that reaches a page is checked against a Pandera model here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import LIFECYCLE_STAGES, ML_LENS_ROLES, PHASES, RolesConfig
from shared.data import storage
from shared.ledger import Alias, Ledger, ModelStatus, RunStatus

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


class ModelRow(pa.DataFrameModel):
    version: Series[str]
    family: Series[str]
    status: Series[str]
    key_metric: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    baseline: Series[float] = pa.Field(nullable=True)
    vs_baseline: Series[float] = pa.Field(nullable=True)
    trained_by: Series[str]
    created_at: Series[str]
    failed_gates: Series[str]


class NodeRow(pa.DataFrameModel):
    id: Series[str]
    kind: Series[str] = pa.Field(
        isin=["raw", "dataset", "run", "model", "rules", "deployment", "scoring"]
    )
    lane: Series[str] = pa.Field(isin=["Software 2.0", "Software 1.0", "Service"])
    label: Series[str]


class EdgeRow(pa.DataFrameModel):
    source: Series[str]
    target: Series[str]


class AuditRow(pa.DataFrameModel):
    id: Series[int]
    ts: Series[str]
    actor: Series[str]
    action: Series[str]
    subject: Series[str]
    details: Series[str]


@dataclass(frozen=True)
class Graph:
    nodes: pd.DataFrame  # NodeRow
    edges: pd.DataFrame  # EdgeRow
    details: dict[str, dict[str, Any]]

    def neighbours(self, node: str) -> tuple[list[str], list[str]]:
        e = self.edges
        return list(e.loc[e["target"] == node, "source"]), list(
            e.loc[e["source"] == node, "target"]
        )

    def dot(self, highlight: str | None = None) -> str:
        """Graphviz DOT: two lanes (Software 2.0 and 1.0) joined at the deployments."""
        shapes = {
            "raw": "note",
            "dataset": "cylinder",
            "run": "box",
            "model": "component",
            "rules": "tab",
            "deployment": "doubleoctagon",
            "scoring": "folder",
        }
        lines = ["digraph lineage {", "rankdir=LR;", 'node [fontsize=10, fontname="Helvetica"];']
        for lane, color in (
            ("Software 2.0", "#e8f0fe"),
            ("Software 1.0", "#fef7e0"),
            ("Service", "#e6f4ea"),
        ):
            sub = self.nodes[self.nodes["lane"] == lane]
            if sub.empty:
                continue
            key = lane.replace(" ", "_").replace(".", "_")
            lines.append(
                f'subgraph cluster_{key} {{ label="{lane}"; style=filled; color="{color}";'
            )
            for r in sub.itertuples():
                extra = ', penwidth=3, color="#d93025"' if r.id == highlight else ""
                label = r.label.replace('"', "'")
                lines.append(f'"{r.id}" [label="{label}", shape={shapes[r.kind]}{extra}];')
            lines.append("}")
        for r in self.edges.itertuples():
            lines.append(f'"{r.source}" -> "{r.target}";')
        lines.append("}")
        return "\n".join(lines)


def models_frame(ledger: Ledger, limit: int | None = None) -> pd.DataFrame:
    rows = []
    for m in ledger.registry.models()[:limit]:
        km = m.key_metric
        value, base = m.metrics.get(km), m.baseline_metrics.get(km)
        rows.append(
            {
                "version": m.version,
                "family": m.family,
                "status": m.status,
                "key_metric": km,
                "value": value,
                "baseline": base,
                "vs_baseline": (value - base) / abs(base) if value is not None and base else None,
                "trained_by": m.trained_by,
                "created_at": f"{m.created_at:%Y-%m-%d %H:%M}",
                "failed_gates": ", ".join(m.failing_gates),
            }
        )
    cols = list(ModelRow.to_schema().columns)
    frame = pd.DataFrame(rows, columns=cols).astype(
        {"value": float, "baseline": float, "vs_baseline": float}
    )
    return ModelRow.validate(
        frame.astype({c: str for c in cols if c not in ("value", "baseline", "vs_baseline")})
    )


def lineage_graph(ledger: Ledger, max_models: int = 30) -> Graph:
    """Raw sources -> datasets -> training runs -> model versions -> deployments (with the
    rules release) -> scoring batches, for the newest ``max_models`` model versions."""
    nodes: dict[str, dict[str, str]] = {}
    details: dict[str, dict[str, Any]] = {}
    edges: set[tuple[str, str]] = set()

    def node(nid: str, kind: str, lane: str, label: str, info: dict[str, Any]) -> None:
        nodes[nid] = {"id": nid, "kind": kind, "lane": lane, "label": label}
        details[nid] = info

    models = ledger.registry.models()[:max_models]
    wanted_ds = {d for m in models for d in m.datasets}
    for d in ledger.datasets.all():
        if d.version not in wanted_ds and models:
            continue
        raw = f"raw:{d.raw_uri}"
        node(
            raw,
            "raw",
            "Software 2.0",
            f"raw\\n{d.source.rsplit('/', 1)[-1][:40]}",
            {"source": d.source, "kept at": d.raw_uri},
        )
        node(
            f"ds:{d.version}",
            "dataset",
            "Software 2.0",
            f"{d.version}\\n{d.rows_valid:,} valid / {d.rows_quarantined:,} quarantined",
            {
                "rows in": d.rows_in,
                "valid": d.rows_valid,
                "quarantined": d.rows_quarantined,
                "location": d.location,
                "created by": d.created_by,
                "ingest run": d.flow_run,
            },
        )
        edges.add((raw, f"ds:{d.version}"))
    for m in models:
        run = f"run:{m.flow_run}"
        node(
            run,
            "run",
            "Software 2.0",
            f"train run\\n{m.flow_run.rsplit('/', 1)[-1]}",
            {
                "pathspec": m.flow_run,
                "code commit": m.git_commit,
                "uncommitted changes": m.git_dirty,
                "config hash": m.config_hash,
                "by": m.trained_by,
            },
        )
        for d in m.datasets:
            edges.add((f"ds:{d}", run))
        node(
            f"model:{m.version}",
            "model",
            "Software 2.0",
            f"{m.version} {m.family}\\n{m.status}",
            {
                "family": m.family,
                "status": m.status,
                "metrics": m.metrics,
                "failed gates": m.failing_gates,
                "artifact": m.artifact_uri,
            },
        )
        edges.add((run, f"model:{m.version}"))
    shown = {f"model:{m.version}" for m in models}
    for dep in ledger.releases.deployments():
        if f"model:{dep.version}" not in shown:
            continue
        rules = f"rules:{dep.rules_version}"
        node(
            rules,
            "rules",
            "Software 1.0",
            f"rules\\n{dep.rules_version}",
            {"rules hash": dep.rules_hash, "code commit": dep.code_commit},
        )
        did = f"deploy:{dep.id}"
        node(
            did,
            "deployment",
            "Service",
            f"deployment {dep.id}\\n{dep.alias}: {dep.version}",
            {
                "alias": dep.alias,
                "model": dep.version,
                "rules": dep.rules_version,
                "bundle": dep.bundle_uri,
                "by": dep.created_by,
                "at": str(dep.created_at),
            },
        )
        edges.add((f"model:{dep.version}", did))
        edges.add((rules, did))
    deployed = {n for n in nodes if n.startswith("deploy:")}
    for b in ledger.operations.scoring_batches():
        if f"deploy:{b.deployment_id}" not in deployed:
            continue
        bid = f"batch:{b.id}"
        node(
            bid,
            "scoring",
            "Service",
            f"scoring batch {b.id}\\n{b.rows:,} rows",
            {
                "input": b.input_source,
                "output": b.output_uri,
                "decisions": b.decisions,
                "run": b.flow_run,
            },
        )
        edges.add((f"deploy:{b.deployment_id}", bid))
    nf = NodeRow.validate(
        pd.DataFrame(list(nodes.values()), columns=["id", "kind", "lane", "label"]).astype(str)
    )
    ef = EdgeRow.validate(pd.DataFrame(sorted(edges), columns=["source", "target"]).astype(str))
    return Graph(nf, ef, details)


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
    prod = ledger.releases.alias(Alias.PRODUCTION)
    best = next((m for m in models if m.status == ModelStatus.CANDIDATE), None)
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
            any((r["branch"] or "").startswith("prod") for r in ok),
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


def audit_frame(ledger: Ledger) -> pd.DataFrame:
    rows = [
        {
            "id": e.id,
            "ts": e.ts,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "details": e.details,
        }
        for e in ledger.audit.entries()
    ]
    return AuditRow.validate(
        pd.DataFrame(rows, columns=list(AuditRow.to_schema().columns)).astype(
            {"id": int, "ts": str, "actor": str, "action": str, "subject": str, "details": str}
        )
    )


def filter_audit(frame: pd.DataFrame, actors: list[str], actions: list[str]) -> pd.DataFrame:
    """Audit rows by the chosen actors and actions (an empty choice keeps all)."""
    keep = pd.Series(True, index=frame.index)
    if actors:
        keep &= frame["actor"].isin(actors)
    if actions:
        keep &= frame["action"].isin(actions)
    return frame[keep]


def guard_activity(
    ledger: Ledger, batches: int = 20
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Decisions per scoring batch over time, top reasons, and example intervened rows."""
    recent = ledger.operations.scoring_batches()[-batches:]
    over_time = pd.DataFrame(
        [{"batch": b.id, "at": b.created_at, **b.decisions} for b in recent],
        columns=["batch", "at", "model", "corrected", "fallback", "rejected"],
    )
    outputs = []
    for b in recent[-5:]:
        try:
            outputs.append(storage.read_parquet(b.output_uri).assign(batch=b.id))
        except FileNotFoundError:
            continue
    if not outputs:
        empty = pd.DataFrame(columns=["reason", "rows"])
        return over_time, empty, pd.DataFrame()
    out = pd.concat(outputs, ignore_index=True)
    reasons = Counter(r for rs in out["reasons"] for r in str(rs).split("; ") if r)
    top = pd.DataFrame(reasons.most_common(15), columns=["reason", "rows"])
    examples = out[out["decision"].isin(["corrected", "fallback"])].head(20)
    return over_time, top, examples


class CheckRow(pa.DataFrameModel):
    """One check of one monitoring run."""

    report: Series[int]
    check: Series[str]
    kind: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    threshold: Series[float]
    verdict: Series[str] = pa.Field(isin=["ok", "alert", "skipped", "not enough rows"])


@dataclass(frozen=True)
class MonitoringViews:
    drift: pd.DataFrame  # report x feature -> PSI
    performance: pd.DataFrame  # report, label coverage, decay
    guard: pd.DataFrame  # report -> guard rate above the holdout's
    retrains: pd.DataFrame  # report, at, model, why, run
    latest: pd.DataFrame  # the newest report's checks with their details


def monitoring_views(ledger: Ledger) -> MonitoringViews | None:
    """The Monitoring page's tables, from the ledger's monitoring reports (None: no runs)."""
    reports = ledger.monitoring.reports()
    if not reports:
        return None
    checks = CheckRow.validate(
        pd.DataFrame(
            [
                {
                    "report": r.id,
                    "check": c["name"],
                    "kind": c["kind"],
                    "value": c["value"],
                    "threshold": c["threshold"],
                    "verdict": c["verdict"],
                }
                for r in reports
                for c in r.checks
            ]
        ).astype({"value": float, "threshold": float})
    )
    drift = checks[checks["kind"] == "data_drift"].assign(
        feature=lambda d: d["check"].str.removeprefix("drift:")
    )
    perf = checks[checks["check"] == "performance"].set_index("report")["value"]
    performance = pd.DataFrame(
        {"report": [r.id for r in reports], "label coverage": [r.label_coverage for r in reports]}
    ).assign(decay=lambda d: d["report"].map(perf))
    retrains = pd.DataFrame(
        [
            {
                "report": r.id,
                "at": r.created_at,
                "model": r.version,
                "why": "; ".join(r.reasons),
                "run": r.retrain_run or "not started",
            }
            for r in reports
            if r.retrain
        ],
        columns=["report", "at", "model", "why", "run"],
    )
    latest = pd.DataFrame(reports[-1].checks)[["name", "verdict", "value", "threshold", "detail"]]
    return MonitoringViews(
        drift.pivot_table(index="report", columns="feature", values="value"),
        performance,
        checks[checks["kind"] == "guard"]
        .set_index("report")["value"]
        .to_frame("guard rate increase"),
        retrains,
        latest,
    )
