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
from shared.config import FIXED_PARTITION_ROWS, load_project, load_project_set
from shared.deploy import write_production_settings
from tests.conftest import REPO, write_project

pytestmark = pytest.mark.slow


def aws_world(endpoint: str, tmp: Path, **overrides: object) -> Path:
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
    for key, value in overrides.items():
        *parents, leaf = key.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = tmp / "aws.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def run_deploy(
    endpoint: str,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    aws_path: Path | None = None,
):
    """`renkei deploy aws ARGS` against moto, with a fresh project config and the production
    settings written to ``tmp/production``; returns the result."""
    monkeypatch.setenv("METAFLOW_S3_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    aws_path = aws_path or aws_world(endpoint, tmp)
    project = write_project(tmp)
    settings = ["--settings-out", str(tmp / "production"), "--test-account"]
    out = CliRunner().invoke(
        cli,
        ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path), *settings]
        + list(args),
    )
    assert out.exit_code == 0, out.output
    return out


def print_iam(tmp: Path, aws_path: Path) -> str:
    """`renkei deploy aws --print-iam` for the project written in ``tmp``."""
    args = ["--config", str(tmp / "project.yaml"), "deploy", "aws", "--aws-config", str(aws_path)]
    out = CliRunner().invoke(cli, [*args, "--print-iam"])
    assert out.exit_code == 0, out.output
    return out.output


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
    # resources per kind of step, from config/aws.yaml (gpu_step / cpu_step)
    reqs = {r["Type"]: r["Value"] for r in params["ContainerOverrides"]["ResourceRequirements"]}
    assert reqs == {"VCPU": "3", "MEMORY": "12000", "GPU": "1"}
    start = states["start"]["Parameters"]
    assert start["JobQueue"].endswith("renkei-cpu")
    reqs = {r["Type"]: r["Value"] for r in start["ContainerOverrides"]["ResourceRequirements"]}
    assert reqs == {"VCPU": "1", "MEMORY": "3500"}
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
    # ... exactly as declared: the same settings in the same order (features included)
    source = yaml.safe_load((tmp_path / "project.yaml").read_text())
    project, _plain = json.loads(frozen)["user_configs"]["project"]
    included = project.pop("included")  # the rules, roles and costs frozen with it
    assert included["sources"]["rules"].endswith("production/rules.yaml")
    assert list(project["features"]) == list(source["features"])
    assert list(project) == list(load_project(tmp_path / "project.yaml").model_dump())
    settings = tmp_path / "production"
    assert project == yaml.safe_load((settings / "project.yaml").read_text())
    assert load_project(tmp_path / "project.yaml").storage.partition_rows == "auto"
    assert project["storage"] == {
        "data_root": "s3://renkei-data/eta",
        "ledger_url": "secretsmanager:renkei/ledger-url",
        "partition_rows": 250_000,  # auto (sized to the machine that plans) deploys fixed
    }
    # the production settings operators use: the project folder with its four files
    for name in ("rules", "costs"):
        assert (settings / f"{name}.yaml").read_bytes() == (
            REPO / "config" / f"{name}.yaml"
        ).read_bytes()
    # roles: the project's, with production's identity written by the deploy (a test
    # account keeps the project's dev mode; provider aws; anchors in the Object Lock bucket)
    roles = yaml.safe_load((REPO / "config" / "roles.yaml").read_text())
    roles["identity"].update(
        dev_mode=True,
        provider="aws",
        anchors={
            "store": "s3",
            "every": 1,
            "bucket": "renkei-anchors",
            "prefix": "renkei/audit-anchors",
            "retain_days": 2555,
            "region": "us-east-1",
        },
    )
    assert yaml.safe_load((settings / "roles.yaml").read_text()) == roles
    assert (settings / "aws.yaml").read_bytes() == aws_path.read_bytes()
    # the IAM policies name exactly the state machines that were deployed
    policies = json.loads(print_iam(tmp_path, aws_path))
    [start] = policies["eventbridge_role"]["policy"]["Statement"]
    assert sorted(start["Resource"]) == sorted(m["stateMachineArn"] for m in machines)


@pytest.mark.parametrize(("setting", "deployed"), [("auto", FIXED_PARTITION_ROWS), (400, 400)])
def test_production_settings_carry_a_fixed_partition_size(
    tmp_path: Path, setting: object, deployed: int
) -> None:
    # issue 26: `auto` sizes partitions to the machine that plans a batch, which on AWS is not
    # the machine its Batch tasks run on: the deploy writes a fixed number for it (the
    # settings frozen into the state machines are these, test_deploy_every_production_flow)
    project = write_project(tmp_path, storage__partition_rows=setting)
    out = write_production_settings(
        tmp_path / "production", load_project_set(project), REPO / "config" / "aws.yaml"
    )
    assert yaml.safe_load(out.read_text())["storage"]["partition_rows"] == deployed
    assert load_project(out).storage.partition_rows == deployed


def test_missing_setting_names_the_setting_and_the_file(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    del data["batch"]["gpu_queue"]
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(cli, ["deploy", "aws", "--aws-config", str(path)])
    assert out.exit_code != 0
    assert f"{path}: field 'batch.gpu_queue': Field required" in out.output


@pytest.mark.parametrize(
    "field, value, problem",
    [
        (
            "memory",
            16000,
            "gpu_step asks for memory (MiB) 16000 but a g5.xlarge can allocate 15200",
        ),
        ("cpu", 5, "gpu_step asks for cpu (vCPUs) 5 but a g5.xlarge can allocate 4"),
    ],
)
def test_step_resources_must_fit_the_instance_types(
    tmp_path: Path, field: str, value: int, problem: str
) -> None:
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    data["batch"]["gpu_step"][field] = value
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(cli, ["deploy", "aws", "--aws-config", str(path)])
    assert out.exit_code != 0
    assert f"{path}: field 'batch': {problem}: the job would stay RUNNABLE" in out.output


def test_print_iam_writes_least_privilege_policies(moto_server: str, tmp_path: Path) -> None:
    aws_path = aws_world(moto_server, tmp_path)
    project = write_project(tmp_path)
    out = CliRunner().invoke(
        cli,
        ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path), "--print-iam"],
    )
    assert out.exit_code == 0, out.output
    policies = json.loads(out.output)
    assert set(policies) == {
        "batch_job_role",
        "step_functions_role",
        "eventbridge_role",
        "operator",
    }
    iam = boto3.client("iam", endpoint_url=moto_server)
    for role, p in policies.items():  # each one is a valid policy document, attached to its role
        arn = iam.create_policy(PolicyName=f"renkei-{role}", PolicyDocument=json.dumps(p["policy"]))
        if p["role"]:
            iam.attach_role_policy(
                RoleName=p["role"].rsplit("/", 1)[1], PolicyArn=arn["Policy"]["Arn"]
            )

    def grants(role: str) -> dict[str, object]:
        return {
            a: st["Resource"] for st in policies[role]["policy"]["Statement"] for a in st["Action"]
        }

    job = grants("batch_job_role")
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:eta.prod.TrainFlow"
    assert job["states:StartExecution"] == machine and job["states:ListStateMachines"] == "*"
    assert job["secretsmanager:GetSecretValue"] == (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:renkei/ledger-url-??????"
    )
    objects = [
        st["Resource"]
        for st in policies["batch_job_role"]["policy"]["Statement"]
        if "s3:PutObject" in st["Action"]
    ]
    anchors = "arn:aws:s3:::renkei-anchors/renkei/audit-anchors/*"  # appended, never deleted
    assert objects == [
        "arn:aws:s3:::renkei-metaflow/metaflow/*",
        "arn:aws:s3:::renkei-data/eta/*",
        anchors,
    ]
    assert not any("*" == a.split(":")[1] for a in job)  # no service-wide wildcards
    sfn = grants("step_functions_role")
    assert "batch:SubmitJob" in sfn and "dynamodb:GetItem" in sfn
    operator = grants("operator")
    operator_objects = [
        st["Resource"]
        for st in policies["operator"]["policy"]["Statement"]
        if "s3:PutObject" in st["Action"]
    ]
    assert operator_objects == ["arn:aws:s3:::renkei-data/eta/*", anchors]
    for role in ("batch_job_role", "operator"):  # the anchors' lock is nobody's to lift
        actions = {a for st in policies[role]["policy"]["Statement"] for a in st["Action"]}
        assert not any("Delete" in a or "Bypass" in a for a in actions), role
    assert "states:StartExecution" not in operator and "dynamodb:GetItem" not in operator


def test_dry_run_writes_the_state_machine_json(
    moto_server: str,
    metadata_service: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out_dir = tmp_path / "sm"
    service, log = metadata_service  # a Metaflow metadata service, named in aws.yaml
    lineage = "http://127.0.0.1:5000"  # an OpenLineage collector (Marquez), named in aws.yaml
    aws_path = aws_world(
        moto_server, tmp_path, metadata__service_url=service, openlineage__url=lineage
    )
    run_deploy(
        moto_server,
        tmp_path,
        monkeypatch,
        "--flow",
        "ScoreFlow",
        "--dry-run",
        "--out",
        str(out_dir),
        aws_path=aws_path,
    )
    definition = json.loads((out_dir / "ScoreFlow.json").read_text())
    assert definition["StartAt"] == "start"
    assert any(s.get("Type") == "Map" for s in definition["States"].values())  # the foreach
    # every task reports to the metadata service, so runs show in Metaflow's client and UI
    env = {
        e["Name"]: e.get("Value")
        for e in definition["States"]["start"]["Parameters"]["ContainerOverrides"]["Environment"]
    }
    assert env["METAFLOW_SERVICE_URL"] == service
    assert env["METAFLOW_DEFAULT_METADATA"] == "service"
    # and sends its run's OpenLineage events to the collector of the production settings
    assert env["OPENLINEAGE_URL"] == lineage
    assert env["OPENLINEAGE_ENDPOINT"] == "api/v1/lineage"
    assert "/metadata/ping" in Path(log).read_text().split()  # the deployment reached it
    assert (
        boto3.client("stepfunctions", endpoint_url=moto_server).list_state_machines()[
            "stateMachines"
        ]
        == []
    )


def test_deployed_monitor_starts_the_train_state_machine(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from shared.monitor.monitoring import MonitoringError
    from shared.monitor.retrain import start_production_training

    with pytest.raises(MonitoringError, match="no deployed state machine 'eta.prod.TrainFlow'"):
        start_production_training("eta")
    run_deploy(moto_server, tmp_path, monkeypatch, "--flow", "TrainFlow")
    arn = start_production_training("eta")
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    [machine] = sfn.list_state_machines()["stateMachines"]
    [execution] = sfn.list_executions(stateMachineArn=machine["stateMachineArn"])["executions"]
    assert execution["executionArn"] == arn


def test_print_iam_grants_the_ledger_key_secret_to_the_job_role_alone(
    moto_server: str, tmp_path: Path
) -> None:
    """roles.yaml keeps the ledger key in a secret: only the Batch job role may read it, and
    only that one secret (moto does not enforce IAM: the policy text is what is checked)."""
    aws_path = aws_world(moto_server, tmp_path)
    write_project(tmp_path)
    roles = yaml.safe_load((tmp_path / "roles.yaml").read_text())
    arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/ledger-key-AbCdEf"
    for secret, resource in (
        (
            "team/ledger-key",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/ledger-key-??????",
        ),
        (arn, arn),
    ):
        roles["identity"]["ledger_key"] = {"secret": secret}
        (tmp_path / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
        policies = json.loads(print_iam(tmp_path, aws_path))
        grants = [
            (role, st)
            for role, p in policies.items()
            for st in p["policy"]["Statement"]
            if "ledger-key" in json.dumps(st)
        ]
        assert [(role, st["Action"], st["Resource"]) for role, st in grants] == [
            ("batch_job_role", ["secretsmanager:GetSecretValue"], resource)
        ]
        for role, p in policies.items():  # nobody reads any secret with a wildcard
            for st in p["policy"]["Statement"]:
                if any(a.startswith("secretsmanager:") for a in st["Action"]):
                    assert "*" not in json.dumps(st["Resource"]).replace("??????", ""), (role, st)
    roles["identity"]["ledger_key"] = None  # a key file: no grant at all
    (tmp_path / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    assert "ledger-key" not in print_iam(tmp_path, aws_path)


def test_print_iam_grants_the_release_key_secret_to_the_operator_alone(
    moto_server: str, tmp_path: Path
) -> None:
    """roles.yaml keeps the release key (signs served bundles) in a secret: only the operator
    (who promotes and attaches shadows) may read it, that one secret; tasks and the service
    verify with the public half in roles.yaml and are granted nothing."""
    aws_path = aws_world(moto_server, tmp_path)
    write_project(tmp_path)
    roles = yaml.safe_load((tmp_path / "roles.yaml").read_text())
    roles["identity"]["release_key"] = {"secret": "team/release-key"}
    (tmp_path / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    policies = json.loads(print_iam(tmp_path, aws_path))
    grants = [
        (role, st["Action"], st["Resource"])
        for role, p in policies.items()
        for st in p["policy"]["Statement"]
        if "release-key" in json.dumps(st)
    ]
    resource = "arn:aws:secretsmanager:us-east-1:123456789012:secret:team/release-key-??????"
    assert grants == [("operator", ["secretsmanager:GetSecretValue"], resource)]
    roles["identity"]["release_key"] = None  # a key file: no grant at all
    (tmp_path / "roles.yaml").write_text(yaml.safe_dump(roles, sort_keys=False))
    assert "release-key" not in print_iam(tmp_path, aws_path)


def _production_roles(roles: Path, release_key: str | None = None) -> None:
    """The roles file as production needs it: dev mode off, S3 anchors, a public key for a
    member of each required approval role, the ledger key pinned, and the release key
    (``release_key``: the public half of the key that signs; else a new one's)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from shared.guard.bundle_sign import new_private_key
    from shared.guard.bundle_sign import public_text as release_public
    from shared.trust.keys import public_text

    data = yaml.safe_load(roles.read_text())
    key = public_text(Ed25519PrivateKey.generate().public_key())
    required = data["approval"]["required_roles"]
    data["identity"] = {
        **data["identity"],
        "dev_mode": False,
        "provider": "aws",
        "public_keys": {data["members"][r][0]: key for r in required},
        "ledger_key": key,
        "release_key": release_key or release_public(new_private_key()),
        "anchors": {"store": "s3", "bucket": "renkei-anchors"},
    }
    roles.write_text(yaml.safe_dump(data, sort_keys=False))


def test_settings_that_leave_production_open_unanchored_or_unsigned_are_refused(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dev mode, local anchors with an S3 data root, a required approval role with no public
    key, no ledger key: each refused in one line naming the setting, before anything is
    written or deployed; a dry run prints what it would refuse; --test-account deploys.
    (aws.yaml without its anchors bucket: roles.yaml's local store is then production's.)"""
    aws_path = aws_world(moto_server, tmp_path, anchors=None)
    monkeypatch.setenv("METAFLOW_USER", "sora")
    project = write_project(tmp_path)
    base = ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
    settings = tmp_path / "production"
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    out = CliRunner().invoke(cli, [*base, "--settings-out", str(settings)])
    assert out.exit_code == 1, out.output
    lines = [x for x in out.output.splitlines() if x.strip()]
    assert all(x.startswith("Error: ") for x in lines), lines
    for setting in (
        "identity.dev_mode is on",
        "identity.anchors.store is local, but production's data root is s3://",
        "approval.required_roles names 'Domain Expert'",
        "approval.required_roles names 'Model Risk Manager'",
        "identity.ledger_key is not set",
        "identity.release_key is not set",
    ):
        assert sum(setting in x for x in lines) == 1, (setting, lines)
    assert not settings.exists()
    assert sfn.list_state_machines()["stateMachines"] == []
    dry = ["--flow", "IngestFlow", "--dry-run", "--out", str(tmp_path / "sm")]
    out = CliRunner().invoke(cli, [*base, "--settings-out", str(settings), *dry])
    assert out.exit_code == 0, out.output
    assert out.output.count("warning (a real deployment is refused)") == len(lines), out.output
    # production-grade settings: nothing to refuse (the dry run writes the JSON only)
    roles = tmp_path / "roles.yaml"
    _production_roles(roles)
    good = roles.read_text()
    out = CliRunner().invoke(cli, [*base, "--settings-out", str(settings), *dry])
    assert out.exit_code == 0 and "warning" not in out.output, out.output
    assert yaml.safe_load((settings / "roles.yaml").read_text())["identity"]["dev_mode"] is False
    # each bad setting alone: refused in one line naming it
    bad = {
        "identity.dev_mode": lambda d: d["identity"].update(dev_mode=True),
        "identity.anchors.store": lambda d: d["identity"].update(anchors={"store": "local"}),
        "approval.required_roles": lambda d: d["identity"]["public_keys"].pop(
            d["members"]["Model Risk Manager"][0]
        ),
        "identity.ledger_key": lambda d: d["identity"].update(ledger_key=None),
        "identity.release_key": lambda d: d["identity"].update(release_key=None),
    }
    for setting, spoil in bad.items():
        data = yaml.safe_load(good)
        spoil(data)
        roles.write_text(yaml.safe_dump(data, sort_keys=False))
        out = CliRunner().invoke(cli, [*base, "--settings-out", str(tmp_path / "p2")])
        assert out.exit_code == 1, (setting, out.output)
        [line] = [x for x in out.output.splitlines() if x.strip()]
        assert line.startswith("Error: ") and setting in line, (setting, line)
    assert not (tmp_path / "p2").exists()
    assert sfn.list_state_machines()["stateMachines"] == []


def _map_states(states: dict) -> list[dict]:
    """Every Map state of a state machine definition, nested ones included."""
    found = []
    for s in states.values():
        if s.get("Type") == "Map":
            found.append(s)
        inner = s.get("ItemProcessor") or s.get("Iterator") or {}
        found += _map_states(inner.get("States", {}))
    return found


@pytest.mark.parametrize("flows", [["ScoreFlow"], []])
def test_the_score_state_machine_uses_a_distributed_map_when_configured(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flows: list[str]
) -> None:
    aws_path = aws_world(moto_server, tmp_path, distributed_map=flows)
    run_deploy(moto_server, tmp_path, monkeypatch, "--flow", "ScoreFlow", aws_path=aws_path)
    sfn = boto3.client("stepfunctions", endpoint_url=moto_server)
    [machine] = sfn.list_state_machines()["stateMachines"]
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"]
    )
    maps = _map_states(definition["States"])
    modes = {
        (m.get("ItemProcessor") or m.get("Iterator"))["ProcessorConfig"]["Mode"]
        if "ProcessorConfig" in (m.get("ItemProcessor") or m.get("Iterator"))
        else "INLINE"
        for m in maps
    }
    if flows:  # the partition foreach fans out as a distributed map, its results on S3
        assert modes == {"DISTRIBUTED"}
        assert any("ItemReader" in m for m in maps)
        assert any("ResultWriter" in m for m in maps)
    else:
        assert modes == {"INLINE"} and not any("ItemReader" in m for m in maps)
    # the step functions role may start and watch the child executions (least privilege)
    statements = json.loads(print_iam(tmp_path, aws_path))["step_functions_role"]["policy"]
    sids = [s["Sid"] for s in statements["Statement"]]
    assert ("DistributedMapChildren" in sids) == bool(flows)
