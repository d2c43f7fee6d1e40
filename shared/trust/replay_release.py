"""Replay rules of the release tables: approvals, alias history, deployments, aliases,
model versions and their datasets (what `renkei approve/promote/rollback/shadow` and the
train flow's registration write). ``Rule`` and the row types are shared with
shared.trust.replay_records; the table of actions is shared.trust.replay_rules."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.ledger.tables import (
    Alias,
    AliasMove,
    Approval,
    AuditEntry,
    Base,
    ModelDataset,
    ModelVersion,
)
from shared.ledger.tables import Deployment as DeploymentRow

Item = tuple[Hashable, Hashable, dict[str, Any]]  # (row or entry id, match key, fields)
Event = tuple[AuditEntry, dict[str, Any]]  # an audit entry and its parsed details


def _v(mid: int | None) -> str | None:
    return None if mid is None else f"v{mid}"


def rows_of(s: Session, table: type[Base], *order: Any) -> list[Any]:
    """Every row of ``table`` in ``order``."""
    return list(s.execute(select(table).order_by(*order)).scalars())


@dataclass(frozen=True)
class Rule:
    """How one state table is replayed: its rows as (id, key, fields), and the rows the
    entries of the actions that write it (``ACTIONS``) say must exist, in chain order."""

    rows: Callable[[Session], list[Item]]
    expected: Callable[[list[Event]], list[Item]]


def _approvals(s: Session) -> list[Item]:
    return [
        (
            a.id,
            (f"v{a.model_id}", a.decision),
            {"actor": a.actor, "role": a.role, "comment": a.comment},
        )
        for a in rows_of(s, Approval, Approval.id)
    ]


def _approval_entries(events: list[Event]) -> list[Item]:
    return [
        (
            e.id,
            (e.subject, e.action.split(".", 1)[1]),
            {"actor": e.actor, "role": d.get("role"), "comment": d.get("comment")},
        )
        for e, d in events
    ]


def _moves(s: Session) -> list[Item]:
    return [
        (
            m.id,
            (m.alias, m.action),
            {
                "version": f"v{m.model_id}",
                "previous": _v(m.previous_model_id),
                "deployment": m.deployment_id,
                "actor": m.actor,
                "reason": m.reason,
            },
        )
        for m in rows_of(s, AliasMove, AliasMove.id)
    ]


def _move_entries(events: list[Event]) -> list[Item]:
    out: list[Item] = []
    for e, d in events:
        fields = {"version": d.get("version"), "actor": e.actor, "reason": d.get("reason")}
        for k in ("previous", "deployment"):
            # a detach recorded before these were audited names only the version
            if k in d or e.action != "alias.detach":
                fields[k] = d.get(k)
        out.append((e.id, (e.subject, e.action.split(".", 1)[1]), fields))
    return out


def _deployments(s: Session) -> list[Item]:
    return [
        (
            d.id,
            d.id,
            {
                "version": f"v{d.model_id}",
                "alias": d.alias,
                "rules_version": d.rules_version,
                "actor": d.created_by,
            },
        )
        for d in rows_of(s, DeploymentRow, DeploymentRow.id)
    ]


def _deployment_entries(events: list[Event]) -> list[Item]:
    return [
        (
            e.id,
            d.get("deployment"),
            {
                "version": d.get("version"),
                "alias": e.subject,
                "rules_version": d.get("rules_version"),
                "actor": e.actor,
            },
        )
        for e, d in events
    ]


def _aliases(s: Session) -> list[Item]:
    return [
        (a.alias, a.alias, {"version": f"v{a.model_id}", "deployment": a.deployment_id})
        for a in rows_of(s, Alias, Alias.alias)
    ]


def _alias_entries(events: list[Event]) -> list[Item]:
    final: dict[str, Item] = {}
    for e, d in events:
        if e.action == "alias.detach":
            final.pop(e.subject, None)  # the challenger is taken off: no alias row
        else:
            fields = {"version": d.get("version"), "deployment": d.get("deployment")}
            final[e.subject] = (e.id, e.subject, fields)
    return list(final.values())


def _models(s: Session) -> list[Item]:
    return [
        (m.id, f"v{m.id}", {"family": m.family, "status": m.status, "actor": m.trained_by})
        for m in rows_of(s, ModelVersion, ModelVersion.id)
    ]


def _model_entries(events: list[Event]) -> list[Item]:
    return [
        (e.id, e.subject, {"family": d.get("family"), "status": d.get("status"), "actor": e.actor})
        for e, d in events
    ]


def _model_datasets(s: Session) -> list[Item]:
    rows = rows_of(s, ModelDataset, ModelDataset.model_id, ModelDataset.dataset_version)
    return [(f"v{r.model_id}", (f"v{r.model_id}", r.dataset_version), {}) for r in rows]


def _model_dataset_entries(events: list[Event]) -> list[Item]:
    return [(e.id, (e.subject, dv), {}) for e, d in events for dv in d.get("datasets", [])]


RELEASE_RULES: dict[str, Rule] = {
    "approvals": Rule(_approvals, _approval_entries),
    "alias_history": Rule(_moves, _move_entries),
    "deployments": Rule(_deployments, _deployment_entries),
    "aliases": Rule(_aliases, _alias_entries),
    "model_versions": Rule(_models, _model_entries),
    "model_datasets": Rule(_model_datasets, _model_dataset_entries),
}
