"""Who a deployed task is (issue 25 item 4): the STS caller of its job role's session and its
Step Functions execution, asked of a moto server; never a guessed name when STS is out of
reach. (The flows' entries, through the production emulation: tests/aws/test_emulation.py.)"""

from __future__ import annotations

import boto3
import pytest

from shared.config.errors import RenkeiError
from shared.trust.task_identity import task_actor, task_identity

TASK = {"AWS_BATCH_JOB_ID": "job-1", "SFN_STATE_MACHINE": "eta.prod.TrainFlow"}


def test_a_batch_task_is_its_job_roles_session_in_its_execution(
    moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="renkei-batch-job", AssumeRolePolicyDocument="{}")["Role"]
    creds = boto3.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="job-1")[
        "Credentials"
    ]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", creds["SessionToken"])
    ident = task_identity({**TASK, "METAFLOW_RUN_ID": "exec-7"})
    assert ident is not None
    assert ident.caller == "arn:aws:sts::123456789012:assumed-role/renkei-batch-job/job-1"
    assert ident.execution == (
        "arn:aws:states:us-east-1:123456789012:execution:eta.prod.TrainFlow:exec-7"
    )
    assert ident.details() == {
        "aws_caller": ident.caller,
        "batch_job": "job-1",
        "sfn_execution": ident.execution,
    }
    assert task_actor("SFN", TASK) == ident.caller  # not Metaflow's user
    # off AWS Batch (a laptop): Metaflow's user, and STS is not asked
    assert task_identity({}) is None and task_actor("mina", {}) == "mina"


def test_a_batch_task_that_cannot_reach_sts_records_nothing_under_a_guessed_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # closed
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with pytest.raises(RenkeiError, match="cannot ask AWS STS who you are"):
        task_actor("SFN", TASK)
