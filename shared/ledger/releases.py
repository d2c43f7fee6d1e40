"""Releases: approvals, deployments (rules + bundle around a model), aliases and their history.

A shadow challenger is attached beside an alias under ``<alias>-shadow`` by an alias move
(action ``shadow``, with its own deployment) and taken off by :meth:`detach_shadow`,
appended to the same history and audit chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from shared.ledger import tables as orm
from shared.ledger.seals import Seal, sealed
from shared.ledger.tables import Alias as AliasRow
from shared.ledger.tables import AliasMove, Approval
from shared.ledger.tables import Deployment as DeploymentRow
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import AliasAction, Decision, LedgerError, parse_version, version_label


@dataclass(frozen=True)
class ApprovalRecord:
    id: int
    version: str
    actor: str
    role: str
    decision: Decision
    comment: str
    created_at: datetime


@dataclass(frozen=True)
class DeploymentRecord:
    id: int
    version: str
    alias: str
    rules_hash: str
    rules_version: str
    code_commit: str | None
    bundle_uri: str
    created_by: str
    created_at: datetime
    bundle_sha256: str | None = None


@dataclass(frozen=True)
class NewDeployment:
    """The rules release and bundle a promotion deploys around a model version."""

    rules_hash: str
    rules_version: str
    code_commit: str | None
    bundle_uri: str
    created_by: str
    bundle_sha256: str | None = None


@dataclass(frozen=True)
class AliasMoveRecord:
    id: int
    alias: str
    version: str
    previous_version: str | None
    deployment_id: int
    action: AliasAction
    actor: str
    reason: str
    at: datetime


def optional_label(model_id: int | None) -> str | None:
    return None if model_id is None else version_label(model_id)


def approval_record(a: orm.Approval) -> ApprovalRecord:
    return ApprovalRecord(
        a.id,
        version_label(a.model_id),
        a.actor,
        a.role,
        Decision(a.decision),
        a.comment,
        a.created_at,
    )


def deployment_record(d: orm.Deployment) -> DeploymentRecord:
    return DeploymentRecord(
        d.id,
        version_label(d.model_id),
        d.alias,
        d.rules_hash,
        d.rules_version,
        d.code_commit,
        d.bundle_uri,
        d.created_by,
        d.created_at,
        d.bundle_sha256,
    )


def alias_move_record(m: orm.AliasMove) -> AliasMoveRecord:
    return AliasMoveRecord(
        m.id,
        m.alias,
        version_label(m.model_id),
        optional_label(m.previous_model_id),
        m.deployment_id,
        AliasAction(m.action),
        m.actor,
        m.reason,
        m.at,
    )


SHADOW_SUFFIX = "-shadow"


def shadow_alias(alias: str) -> str:
    """The alias a challenger of ``alias`` is attached under."""
    return f"{alias}{SHADOW_SUFFIX}"


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
            return sealed(uow, approval_record(a), seal)

    def approvals(self, version: str | int | None = None) -> list[ApprovalRecord]:
        with self.read() as s:
            q = select(Approval).order_by(Approval.id)
            if version is not None:
                q = q.where(Approval.model_id == parse_version(version))
            return [approval_record(a) for a in s.execute(q).scalars()]

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
                check(optional_label(previous))
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
                    "previous": optional_label(previous),
                    "deployment": dep.id,
                    "rules_version": dep.rules_version,
                    "reason": reason,
                },
            )
            return sealed(uow, alias_move_record(move), seal)

    def alias(self, alias: str) -> DeploymentRecord | None:
        """The deployment an alias points at now, or None."""
        with self.read() as s:
            a = s.get(AliasRow, alias)
            if a is None:
                return None
            dep = s.get(DeploymentRow, a.deployment_id)
            assert dep is not None, "an alias always points at a deployment (foreign key)"
            return deployment_record(dep)

    def history(self, alias: str | None = None) -> list[AliasMoveRecord]:
        """Every alias move (of ``alias`` when given), oldest first."""
        with self.read() as s:
            q = select(AliasMove).order_by(AliasMove.id)
            if alias:
                q = q.where(AliasMove.alias == alias)
            return [alias_move_record(m) for m in s.execute(q).scalars()]

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
            return [deployment_record(d) for d in rows]

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
            return None if d is None else deployment_record(d)

    def deployment(self, deployment_id: int) -> DeploymentRecord:
        with self.read() as s:
            d = self.row(s, DeploymentRow, deployment_id, f"no deployment {deployment_id}")
            return deployment_record(d)

    def detach_shadow(
        self, alias: str, actor: str, reason: str, seal: Seal | None = None
    ) -> AliasMoveRecord:
        """Remove the shadow of ``alias``; the history keeps which version it was. ``seal``:
        the move's signature, written in the same transaction."""
        name = shadow_alias(alias)
        with self.write() as uow:
            s = uow.session
            current = s.get(AliasRow, name)
            if current is None:
                raise LedgerError(f"no shadow challenger is attached to {alias!r}")
            move = AliasMove(
                alias=name,
                model_id=current.model_id,
                previous_model_id=current.model_id,
                deployment_id=current.deployment_id,
                action=AliasAction.DETACH.value,
                actor=actor,
                reason=reason,
                at=utcnow(),
            )
            s.delete(current)
            s.add(move)
            s.flush()
            uow.audit(
                actor,
                f"alias.{AliasAction.DETACH.value}",
                name,
                {
                    "version": version_label(current.model_id),
                    "previous": version_label(current.model_id),
                    "deployment": current.deployment_id,
                    "reason": reason,
                },
            )
            return sealed(uow, alias_move_record(move), seal)
