"""Flow runs: started, succeeded or failed, by whom, on which branch."""

from __future__ import annotations

from sqlalchemy import select

from shared.ledger import mapping
from shared.ledger.models import FlowRun
from shared.ledger.records import FlowRunRecord
from shared.ledger.unit import Repository, utcnow
from shared.ledger.vocab import LedgerError, RunStatus


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
            return [mapping.flow_run(r) for r in rows]

    def get(self, pathspec: str) -> FlowRunRecord | None:
        with self.read() as s:
            r = s.execute(select(FlowRun).where(FlowRun.pathspec == pathspec)).scalar()
            return None if r is None else mapping.flow_run(r)
