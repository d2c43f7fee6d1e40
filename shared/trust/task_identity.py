"""Who a deployed flow's task is: its AWS identity, not a name from the environment.

On AWS Batch a task acts with its job role's credentials; STS GetCallerIdentity answers with
the role session's ARN (``arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION``). Deployed on Step
Functions, the task also belongs to one execution, whose ARN is built from the state machine
and execution name Metaflow passes every task. Entries the flow records carry the caller ARN
as their actor; the run's record (and its ``run.start`` audit entry) carries both. Off AWS
Batch (a laptop, a CI runner) the actor stays Metaflow's user, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared.config.settings import batch_task
from shared.trust.identity import aws_login


@dataclass(frozen=True)
class TaskIdentity:
    caller: str  # the STS caller ARN: the job role's session
    job_id: str  # AWS_BATCH_JOB_ID
    execution: str | None  # the Step Functions execution ARN (None: Batch without SFN)

    def details(self) -> dict[str, str]:
        """What the run's record keeps of it."""
        out = {"aws_caller": self.caller, "batch_job": self.job_id}
        if self.execution:
            out["sfn_execution"] = self.execution
        return out


def task_identity(environ: Mapping[str, str] | None = None) -> TaskIdentity | None:
    """This task's AWS identity, asked of STS; None off AWS Batch. Raises IdentityError (one
    line) when STS cannot answer: an entry is never recorded under a guessed name."""
    import boto3

    task = batch_task(environ)
    if task is None:
        return None
    caller = aws_login()
    execution = None
    if task.state_machine and task.execution_name:
        _, partition, _, _, account, *_ = caller.split(":")
        region = boto3.session.Session().region_name
        execution = (
            f"arn:{partition}:states:{region}:{account}:execution:"
            f"{task.state_machine}:{task.execution_name}"
        )
    return TaskIdentity(caller, task.job_id, execution)


def task_actor(fallback: str, environ: Mapping[str, str] | None = None) -> str:
    """The actor a flow's entries name: the task's STS caller ARN on AWS Batch, else
    ``fallback`` (Metaflow's user)."""
    ident = task_identity(environ)
    return ident.caller if ident else fallback
