"""Flow runs: started, succeeded or failed, by whom, on which branch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from shared.ledger import tables as orm
from shared.ledger.tables import FlowRun
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import LedgerError, RunStatus


@dataclass(frozen=True)
class FlowRunRecord:
    pathspec: str
    user: str
    branch: str | None
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None
    error: str | None


def flow_run_record(r: orm.FlowRun) -> FlowRunRecord:
    return FlowRunRecord(
        r.pathspec,
        r.user,
        r.branch,
        RunStatus(r.status),
        r.started_at,
        r.ended_at,
        (r.details or {}).get("error"),
    )


class RunRepository(Repository):
    def start(
        self, flow: str, run_id: str, user: str, branch: str | None = None, **details: object
    ) -> str:
        """Record a flow run as running; returns its pathspec. Idempotent per pathspec."""
        pathspec = f"{flow}/{run_id}"
        with self.write() as uow:
            s = uow.session
            existing = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            if existing is None:
                s.add(
                    FlowRun(
                        pathspec=pathspec,
                        flow=flow,
                        run_id=str(run_id),
                        user=user,
                        branch=branch,
                        status=RunStatus.RUNNING.value,
                        started_at=utcnow(),
                        details=details,
                    )
                )
                uow.audit(user, "run.start", pathspec, {"branch": branch, **details})
        return pathspec

    def finish(self, pathspec: str, status: RunStatus, **details: object) -> None:
        """Mark a flow run succeeded or failed."""
        status = RunStatus(status)
        with self.write() as uow:
            s = uow.session
            run = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            if run is None:
                raise LedgerError(f"no flow run {pathspec!r} in the ledger")
            run.status = status.value
            run.ended_at = utcnow()
            run.details = {**(run.details or {}), **details}
            uow.audit(run.user, f"run.{status.value}", pathspec, details)

    def all(self) -> list[FlowRunRecord]:
        """Every flow run, oldest first."""
        with self.read() as s:
            rows = s.execute(select(FlowRun).order_by(FlowRun.id)).scalars()
            return [flow_run_record(r) for r in rows]

    def get(self, pathspec: str) -> FlowRunRecord | None:
        with self.read() as s:
            r = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            return None if r is None else flow_run_record(r)
