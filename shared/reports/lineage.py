"""The registry as the app shows it: the models frame and the lineage graph (raw data -> dataset -> model -> alias)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.ledger import DeploymentRecord, Ledger, LedgerError, Lineage

from .champion import champion_on_holdout


class ModelRow(pa.DataFrameModel):
    version: Series[str]
    family: Series[str]
    status: Series[str]
    key_metric: Series[str]
    value: Series[float] = pa.Field(nullable=True)
    baseline: Series[float] = pa.Field(nullable=True)
    vs_baseline: Series[float] = pa.Field(nullable=True)
    # the production version gated against on this version's holdout, and its score there
    production: Series[str]
    production_value: Series[float] = pa.Field(nullable=True)
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
        champ = champion_on_holdout(m)
        rows.append(
            {
                "version": m.version,
                "family": m.family,
                "status": m.status,
                "key_metric": km,
                "value": value,
                "baseline": base,
                "vs_baseline": (value - base) / abs(base) if value is not None and base else None,
                "production": champ.version or champ.note if champ else "not gated (reference)",
                "production_value": champ.score if champ else None,
                "trained_by": m.trained_by,
                "created_at": f"{m.created_at:%Y-%m-%d %H:%M}",
                "failed_gates": ", ".join(m.failing_gates),
            }
        )
    cols = list(ModelRow.to_schema().columns)
    floats = {"value": float, "baseline": float, "vs_baseline": float, "production_value": float}
    frame = pd.DataFrame(rows, columns=cols).astype(floats)
    return ModelRow.validate(frame.astype({c: str for c in cols if c not in floats}))


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


@dataclass(frozen=True)
class RequestLineage:
    """An online request (captured by the service) back to the deployment that answered it,
    its rules, the model and the datasets it was trained on, down to the raw files."""

    request_id: str
    answers: pd.DataFrame  # the captured rows of the request (features, answers, shadow)
    deployment: DeploymentRecord
    lineage: Lineage


def request_lineage(ledger: Ledger, data_root: str, request_id: str) -> RequestLineage:
    """Lineage of online request ``request_id``; LedgerError when it was never captured."""
    from shared.operate.captured import request_answers

    rows = request_answers(data_root, request_id)
    if rows.empty:
        raise LedgerError(
            f"no captured online answer has request id {request_id!r}: the id is in each "
            "/predict answer (request_id); capture may be off or sampled (capture: in project.yaml)"
        )
    dep = ledger.releases.deployment(int(rows["deployment_id"].iloc[0]))
    return RequestLineage(request_id, rows, dep, ledger.registry.lineage(dep.version))
