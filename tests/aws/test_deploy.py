"""Deploying the production flows to Step Functions, against a moto server on loopback."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import boto3
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from tests.conftest import REPO, write_project

pytestmark = pytest.mark.slow


def aws_world(endpoint: str, tmp: Path) -> Path:
    """What a standard Metaflow AWS deployment leaves behind, created in moto."""
    s3 = boto3.client("s3", endpoint_url=endpoint)
    for b in ("renkei-metaflow", "renkei-data"):
        s3.create_bucket(Bucket=b)
    iam = boto3.client("iam", endpoint_url=endpoint)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    arns = {
        n: iam.create_role(RoleName=n, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for n in (
            "renkei-batch-job",
            "renkei-step-functions",
            "renkei-eventbridge",
            "renkei-batch-service",
        )
    }
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="renkei", Description="renkei", VpcId=vpc)["GroupId"]
    profile = iam.create_instance_profile(InstanceProfileName="renkei-ecs")["InstanceProfile"][
        "Arn"
    ]
    batch = boto3.client("batch", endpoint_url=endpoint)
    for name, itype in (("renkei-cpu", "m5.large"), ("renkei-gpu", "g5.xlarge")):
        ce = batch.create_compute_environment(
            computeEnvironmentName=name,
            type="MANAGED",
            state="ENABLED",
            computeResources={
                "type": "EC2",
                "minvCpus": 0,
                "maxvCpus": 8,
                "instanceTypes": [itype],
                "subnets": [subnet],
                "securityGroupIds": [sg],
                "instanceRole": profile,
            },
            serviceRole=arns["renkei-batch-service"],
        )
        batch.create_job_queue(
            jobQueueName=name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}
            ],
        )
    boto3.client("dynamodb", endpoint_url=endpoint).create_table(
        TableName="renkei-step-functions-state",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pathspec", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pathspec", "AttributeType": "S"}],
    )
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    data["iam"] = {
        "batch_job_role": arns["renkei-batch-job"],
        "step_functions_role": arns["renkei-step-functions"],
        "eventbridge_role": arns["renkei-eventbridge"],
    }
    path = tmp / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def run_deploy(
    endpoint: str,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    aws_path: Path | None = None,
):
    """`renkei deploy aws ARGS` against moto, with a fresh project config; returns the result."""
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_path or aws_world(endpoint, tmp)
    project = write_project(tmp)
    out = CliRunner().invoke(
        cli, ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path), *args]
    )
    assert out.exit_code == 0, out.output
    return out


def test_deploy_every_production_flow(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_path = aws_world(moto_server, tmp_path)
    out = run_deploy(moto_server, tmp_path, monkeypatch, aws_path=aws_path)
    assert "renkei-gpu" in out.output and "0 4 ? * MON *" in out.output
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    machines = sfn.list_state_machines()["stateMachines"]
    names = sorted(m["name"].lower() for m in machines)
    assert len(names) == 4 and all(".prod." in n for n in names), names
    for flow in ("ingestflow", "trainflow", "scoreflow", "monitorflow"):
        assert any(flow in n for n in names)
    [machine] = [m for m in machines if "trainflow" in m["name"].lower()]
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
    )
    states = definition["States"]
    train = next(
        s
        for n, s in states.items()
        if n == "train" or s.get("Iterator", {}).get("States", {}).get("train")
    )
    train = train.get("Iterator", {}).get("States", {}).get("train", train)
    params = train["Parameters"]
    assert params["JobQueue"].endswith("renkei-gpu")
    gpu = [r for r in params["ContainerOverrides"]["ResourceRequirements"] if r["Type"] == "GPU"]
    assert gpu == [{"Type": "GPU", "Value": "1"}]
    start = states["start"]["Parameters"]
    assert start["JobQueue"].endswith("renkei-cpu")
    rules = boto3.client("events", endpoint_url=moto_server).list_rules()["Rules"]
    crons = sorted(r.get("ScheduleExpression") for r in rules)
    assert crons == sorted(
        f"cron({c})" for c in yaml.safe_load(aws_path.read_text())["schedules"].values()
    )
    # the code package in S3 holds shared/ and the frozen configs
    s3 = boto3.client("s3", endpoint_url=moto_server)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="renkei-metaflow")["Contents"]]
    [pkg] = [k for k in keys if "/data/" in k and k.split("/")[-1] and "TrainFlow" in k] or [None]
    assert pkg, keys
    blob = s3.get_object(Bucket="renkei-metaflow", Key=pkg)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        names = tar.getnames()
        assert ".mf_code/shared/__init__.py" in names and "train_flow.py" in names
        assert ".mf_code/shared/ledger/migrations/versions/0001_backbone.py" in names
        frozen = tar.extractfile(".mf_meta/CONFIG").read().decode()
    # the configs are frozen into the package: production data root, GPU queue, target aws
    assert (
        "s3://renkei-data/eta" in frozen and "renkei-gpu" in frozen and '"target": "aws"' in frozen
    )
    # ... with the project's rules, roles and costs (one project set)
    assert "within_training_envelope" in frozen and "required_roles" in frozen
    assert "value_per_unit_improvement" in frozen


def test_missing_setting_names_the_setting_and_the_file(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    del data["batch"]["gpu_queue"]
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(cli, ["deploy", "aws", "--aws-config", str(path)])
    assert out.exit_code != 0
    assert f"{path}: field 'batch.gpu_queue': Field required" in out.output


def test_dry_run_writes_the_state_machine_json(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out_dir = tmp_path / "sm"
    run_deploy(
        moto_server,
        tmp_path,
        monkeypatch,
        "--flow",
        "ScoreFlow",
        "--dry-run",
        "--out",
        str(out_dir),
    )
    definition = json.loads((out_dir / "ScoreFlow.json").read_text())
    assert definition["StartAt"] == "start"
    assert any(s.get("Type") == "Map" for s in definition["States"].values())  # the foreach
    assert (
        boto3.client("stepfunctions", endpoint_url=moto_server).list_state_machines()[
            "stateMachines"
        ]
        == []
    )


def test_deployed_monitor_starts_the_train_state_machine(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.monitoring import MonitoringError, start_production_training

    with pytest.raises(MonitoringError, match="no deployed state machine 'eta.prod.TrainFlow'"):
        start_production_training("eta")
    run_deploy(moto_server, tmp_path, monkeypatch, "--flow", "TrainFlow")
    arn = start_production_training("eta")
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    [machine] = sfn.list_state_machines()["stateMachines"]
    [execution] = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert execution["executionArn"] == arn
