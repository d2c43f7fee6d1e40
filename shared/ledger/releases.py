"""Releases: approvals, deployments (rules + bundle around a model), aliases and their history."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import select

from shared.ledger import mapping
from shared.ledger.models import Alias as AliasRow
from shared.ledger.models import AliasMove, Approval
from shared.ledger.models import Deployment as DeploymentRow
from shared.ledger.records import (
    AliasMoveRecord,
    ApprovalRecord,
    DeploymentRecord,
    NewDeployment,
)
from shared.ledger.trust_models import Seal
from shared.ledger.unit import Repository, UnitOfWork, utcnow
from shared.ledger.vocab import AliasAction, Decision, LedgerError, parse_version, version_label

R = TypeVar("R")


def sealed(uow: UnitOfWork, record: R, seal: Seal | None) -> R:
    """``record`` (a decision), its signature added in the same transaction when ``seal``."""
    if seal is not None:
        uow.session.add(seal(record).row())
        uow.session.flush()
    return record


class ReleaseRepository(Repository):
    def add_approval(
        self,
        version: str | int,
        actor: str,
        role: str,
        decision: Decision,
        comment: str,
        seal: Seal | None = None,
    ) -> ApprovalRecord:
        """Record an approval or rejection (policy checks live in shared.release), with its
        signature (``seal``) in the same transaction."""
        mid = parse_version(version)
        decision = Decision(decision)
        with self.write() as uow:
            a = Approval(
                model_id=mid,
                actor=actor,
                role=role,
                decision=decision.value,
                comment=comment,
                created_at=utcnow(),
            )
            uow.session.add(a)
            uow.session.flush()
            details = {"role": role, "comment": comment}
            uow.audit(actor, f"model.{decision.value}", version_label(mid), details)
            return sealed(uow, mapping.approval(a), seal)

    def approvals(self, version: str | int | None = None) -> list[ApprovalRecord]:
        with self.read() as s:
            q = select(Approval).order_by(Approval.id)
            if version is not None:
                q = q.where(Approval.model_id == parse_version(version))
            return [mapping.approval(a) for a in s.execute(q).scalars()]

    def move_alias(
        self,
        alias: str,
        version: str | int,
        actor: str,
        reason: str,
        action: AliasAction,
        deployment: NewDeployment | None = None,
        check: Callable[[str | None], None] | None = None,
        seal: Seal | None = None,
    ) -> AliasMoveRecord:
        """Point ``alias`` at ``version``, appending to its history, in one locked transaction.

        ``deployment``: a new deployment record to create (rules + bundle); without it the
        newest deployment of that version under this alias is reused (rollback).
        ``check(current_version_or_None)`` may raise to refuse, seeing the alias as it is
        inside the lock, so racing moves cannot both pass on a stale view. ``seal``: the
        move's signature, written in the same transaction.
        """
        mid, alias, action = parse_version(version), str(alias), AliasAction(action)
        with self.write() as uow:
            s = uow.session
            current = s.get(AliasRow, alias)
            previous = current.model_id if current else None
            if check is not None:
                check(mapping.optional_label(previous))
            now = utcnow()
            if deployment is not None:
                dep = DeploymentRow(model_id=mid, alias=alias, created_at=now, **asdict(deployment))
                s.add(dep)
                s.flush()
            else:
                dep = s.execute(
                    select(DeploymentRow)
                    .where(DeploymentRow.model_id == mid, DeploymentRow.alias == alias)
                    .order_by(DeploymentRow.id.desc())
                    .limit(1)
                ).scalar()
                if dep is None:
                    raise LedgerError(f"{version_label(mid)} was never deployed as {alias!r}")
            if current is None:
                s.add(AliasRow(alias=alias, model_id=mid, deployment_id=dep.id, updated_at=now))
            else:
                current.model_id, current.deployment_id, current.updated_at = mid, dep.id, now
            move = AliasMove(
                alias=alias,
                model_id=mid,
                previous_model_id=previous,
                deployment_id=dep.id,
                action=action.value,
                actor=actor,
                reason=reason,
                at=now,
            )
            s.add(move)
            s.flush()
            uow.audit(
                actor,
                f"alias.{action.value}",
                alias,
                {
                    "version": version_label(mid),
                    "previous": mapping.optional_label(previous),
                    "deployment": dep.id,
                    "rules_version": dep.rules_version,
                    "reason": reason,
                },
            )
            return sealed(uow, mapping.alias_move(move), seal)

    def alias(self, alias: str) -> DeploymentRecord | None:
        """The deployment an alias points at now, or None."""
        with self.read() as s:
            a = s.get(AliasRow, alias)
            if a is None:
                return None
            dep = s.get(DeploymentRow, a.deployment_id)
            assert dep is not None, "an alias always points at a deployment (foreign key)"
            return mapping.deployment(dep)

    def history(self, alias: str | None = None) -> list[AliasMoveRecord]:
        """Every alias move (of ``alias`` when given), oldest first."""
        with self.read() as s:
            q = select(AliasMove).order_by(AliasMove.id)
            if alias:
                q = q.where(AliasMove.alias == alias)
            return [mapping.alias_move(m) for m in s.execute(q).scalars()]

    def alias_at(self, alias: str, when: datetime) -> str | None:
        """Which version ``alias`` pointed at on ``when`` (from the append-only history)."""
        version = None
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
        for m in self.history(alias):
            at = m.at if m.at.tzinfo else m.at.replace(tzinfo=UTC)
            if at <= when:
                version = m.version
        return version

    def deployments(self) -> list[DeploymentRecord]:
        with self.read() as s:
            rows = s.execute(select(DeploymentRow).order_by(DeploymentRow.id)).scalars()
            return [mapping.deployment(d) for d in rows]

    def latest_deployment(self, version: str | int, alias: str) -> DeploymentRecord | None:
        """The newest deployment of ``version`` as ``alias`` (what a rollback reuses)."""
        with self.read() as s:
            d = s.execute(
                select(DeploymentRow)
                .where(DeploymentRow.model_id == parse_version(version))
                .where(DeploymentRow.alias == alias)
                .order_by(DeploymentRow.id.desc())
                .limit(1)
            ).scalar()
            return None if d is None else mapping.deployment(d)

    def deployment(self, deployment_id: int) -> DeploymentRecord:
        with self.read() as s:
            d = self.row(s, DeploymentRow, deployment_id, f"no deployment {deployment_id}")
            return mapping.deployment(d)
