"""The scoring endpoint deployed with `renkei deploy aws --service` against a moto server:
ECS Fargate behind an HTTPS Application Load Balancer, read back; the task definition's
exact command then run here as a task would run it, answering /predict with an API token."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import httpx
import pytest
import yaml
from click.testing import CliRunner

from shared.cli import cli
from shared.config import load_aws
from shared.guard.bundle_sign import public_text
from shared.trust.release_key import release_signer
from tests.aws.conftest import AWS_TEST_ENV
from tests.aws.emulator import dockerfile_env, task_env
from tests.aws.test_deploy import _production_roles, aws_world, run_deploy
from tests.builders import build, release
from tests.conftest import (
    REPO,
    free_port,
    stop_process,
    until_health,
    wait_for_http,
    write_project,
)
from tests.service.test_http import ROW

SERVE_DOCKERFILE = REPO / "docker" / "Dockerfile.serve"


def service_world(endpoint: str, tmp: Path, **service: object) -> Path:
    """aws_world plus what the endpoint needs: a VPC with two subnets in two zones, the
    tasks' and the ALB's security groups, the task and execution roles, a certificate;
    aws.yaml's service section names them (``service`` overrides any other setting)."""
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{i}.0/24", AvailabilityZone=f"us-east-1{z}")[
            "Subnet"
        ]["SubnetId"]
        for i, z in ((1, "a"), (2, "b"))
    ]
    groups = [
        ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"]
        for n in ("renkei-serve-tasks", "renkei-serve-alb")
    ]
    iam = boto3.client("iam", endpoint_url=endpoint)
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    roles = {
        n: iam.create_role(RoleName=n, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        for n in ("renkei-serve-task", "renkei-serve-execution")
    }
    cert = boto3.client("acm", endpoint_url=endpoint).request_certificate(
        DomainName="scoring.example.com"
    )["CertificateArn"]
    section = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())["service"]
    section.update(
        vpc_id=vpc,
        subnets=subnets,
        security_groups=groups[:1],
        load_balancer_security_groups=groups[1:],
        task_role=roles["renkei-serve-task"],
        execution_role=roles["renkei-serve-execution"],
        certificate_arn=cert,
        **service,
    )
    return aws_world(endpoint, tmp, service=section)


def deploy_service(
    endpoint: str,
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    release_key: str | None = None,
):
    """`renkei deploy aws --service ARGS` for the project (production-grade roles) in tmp,
    trusting ``release_key`` (a public release key) for the bundles it loads."""
    write_project(tmp)
    _production_roles(tmp / "roles.yaml", release_key)  # no dev mode: a request needs a token
    return run_deploy(endpoint, tmp, monkeypatch, "--service", *args, aws_path=tmp / "aws.yaml")


@pytest.mark.slow
def test_the_deployed_service_is_read_back_and_its_task_command_answers_with_a_token(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a trained ledger (production's: the ledger secret names it), its API token issued with
    # `renkei tokens create`
    (tmp_path / "train").mkdir()
    trained = build(tmp_path / "train", f"sqlite:///{tmp_path / 'train' / 'ledger.db'}", runs=1)
    [version] = trained.candidates
    monkeypatch.setenv("METAFLOW_USER", "sora")
    made = CliRunner().invoke(
        cli, ["--config", str(trained.project_path), "tokens", "create", "--name", "checkout"]
    )
    assert made.exit_code == 0, made.output
    token = made.output.strip().splitlines()[-1]
    sm = boto3.client("secretsmanager", endpoint_url=moto_server)
    sm.create_secret(
        Name="renkei/ledger-url", SecretString=f"sqlite:///{tmp_path / 'train' / 'ledger.db'}"
    )

    here = tmp_path / "deploy"
    here.mkdir()
    aws_path = service_world(moto_server, here)
    # moto keeps no deployment configuration nor grace period of a service: the parameters
    # of the ECS calls the deployment made (and moto accepted) are recorded here
    sent: dict[str, dict] = {}
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.ecs", lambda params, model, **_: sent.update({model.name: params})
    )
    s = load_aws(aws_path).service
    assert s is not None
    # the task trusts the release key that signs the promotion below (pinned in its roles.yaml)
    signer = release_signer(trained.roles.identity, "s3://renkei-data/eta")
    pinned = public_text(signer.private_pem)
    out = deploy_service(moto_server, here, monkeypatch, release_key=pinned)
    assert re.search(r"endpoint\s+https://\S+ ", out.output), out.output
    ecs = boto3.client("ecs", endpoint_url=moto_server)
    [cluster] = ecs.describe_clusters(clusters=[s.cluster])["clusters"]
    assert cluster["status"] == "ACTIVE"
    [svc] = ecs.describe_services(cluster=s.cluster, services=[s.name])["services"]
    assert svc["launchType"] == "FARGATE" and svc["desiredCount"] == s.desired_count
    create = sent["CreateService"]
    assert create["deploymentConfiguration"] == {  # every task answers until replaced
        "minimumHealthyPercent": 100,
        "maximumPercent": 200,
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
    }
    assert create["healthCheckGracePeriodSeconds"] == 120
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["subnets"] == s.subnets
    assert svc["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == s.security_groups
    [lb_ref] = svc["loadBalancers"]
    assert (lb_ref["containerName"], lb_ref["containerPort"]) == ("renkei-serve", 8000)
    task = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    assert (task["cpu"], task["memory"], task["networkMode"]) == ("1024", "2048", "awsvpc")
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert (task["taskRoleArn"], task["executionRoleArn"]) == (s.task_role, s.execution_role)
    [container] = task["containerDefinitions"]
    assert container["image"] == s.image and container["stopTimeout"] == 90
    logs_conf = container["logConfiguration"]
    assert logs_conf["logDriver"] == "awslogs"
    assert logs_conf["options"]["awslogs-group"] == "/renkei/serve"

    elb = boto3.client("elbv2", endpoint_url=moto_server)
    [lb] = elb.describe_load_balancers(Names=[s.name])["LoadBalancers"]
    assert (
        lb["Scheme"] == "internet-facing"
        and lb["SecurityGroups"] == s.load_balancer_security_groups
    )
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(s.subnets)
    [tg] = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert tg["TargetGroupArn"] == lb_ref["targetGroupArn"]
    assert (tg["HealthCheckPath"], tg["Port"], tg["TargetType"]) == ("/health", 8000, "ip")
    assert (tg["HealthCheckIntervalSeconds"], tg["UnhealthyThresholdCount"]) == (15, 3)
    attrs = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(TargetGroupArn=tg["TargetGroupArn"])[
            "Attributes"
        ]
    }
    assert attrs["deregistration_delay.timeout_seconds"] == "30"
    listeners = {
        x["Port"]: x
        for x in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    }
    https = listeners[443]
    assert https["Protocol"] == "HTTPS" and https["SslPolicy"] == s.ssl_policy
    assert [c["CertificateArn"] for c in https["Certificates"]] == [s.certificate_arn]
    assert https["DefaultActions"][0]["TargetGroupArn"] == tg["TargetGroupArn"]
    assert listeners[80]["DefaultActions"][0]["Type"] == "redirect"

    scaling = boto3.client("application-autoscaling", endpoint_url=moto_server)
    [target] = scaling.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert target["ResourceId"] == f"service/{s.cluster}/{s.name}"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    [policy] = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling" and tracking["TargetValue"] == 60
    metric = tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
    assert metric == "ECSServiceAverageCPUUtilization"
    [group] = boto3.client("logs", endpoint_url=moto_server).describe_log_groups(
        logGroupNamePrefix="/renkei/serve"
    )["logGroups"]
    assert group["retentionInDays"] == 30

    # the task definition's exact command, run here as a task runs: in an empty folder, with
    # the image's ENV and the task's environment, on a free 127.0.0.1 port
    env = task_env(str(Path(sys.executable).parent), AWS_TEST_ENV, moto_server)
    env |= dockerfile_env(str(SERVE_DOCKERFILE))
    env |= {e["name"]: e["value"] for e in container["environment"]}
    port = free_port()
    env |= {"RENKEI_HOST": "127.0.0.1", "RENKEI_PORT": str(port)}
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="task-") as work:
        env["TMPDIR"] = work  # the settings' fresh folder (mktemp -d) goes there too
        log = Path(work, "..", f"{Path(work).name}.log").resolve()
        with open(log, "w") as sink:
            proc = subprocess.Popen(
                container["command"], cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT
            )
        try:
            wait_for_http(f"{base}/health", proc, timeout=180)
            health_check = container["healthCheck"]["command"]
            assert health_check[0] == "CMD"

            def healthy() -> bool:  # the container's own check, as ECS runs it
                done = subprocess.run(health_check[1:], env=env, cwd=work, timeout=60)
                return done.returncode == 0

            with httpx.Client(base_url=base, timeout=30, trust_env=False) as c:
                # nothing promoted yet (once every worker is up: degraded before): the ALB's
                # check gets 200, the container's fails
                h = until_health(base, lambda h: h["workers_alive"] == h["workers_expected"])
                assert h["status"] == "no_model", h
                assert not healthy()
                # promoted as in production (the bundle under the settings' S3 data root):
                # the running task picks it up, and is healthy
                prod = trained.cfg.storage.model_copy(update={"data_root": "s3://renkei-data/eta"})
                prod = trained.cfg.model_copy(update={"storage": prod})
                release(trained.ledger, trained.roles, prod, trained.rules, version)
                deadline = time.monotonic() + 120
                while (h := c.get("/health").json())["model_version"] != version:
                    assert time.monotonic() < deadline, f"the promotion was not picked up: {h}"
                    time.sleep(0.5)
                # every worker (a busy one may show stale a moment): ok, with the version
                until_health(base, lambda h: (h["status"], h["model_version"]) == ("ok", version))
                assert healthy()
                assert c.post("/predict", json=ROW).status_code == 401  # no token
                bad = c.post("/predict", json=ROW, headers={"Authorization": "Bearer nope"})
                assert bad.status_code == 401
                auth = {"Authorization": f"Bearer {token}"}
                ok = c.post("/predict", json=ROW, headers=auth)
                assert ok.status_code == 200, ok.text
                [answer] = ok.json()["predictions"]
                assert answer["model_version"] == version and answer["decision"] == "model"
                assert (
                    c.get("/version", headers=auth)
                    .json()["bundle_uri"]
                    .startswith("s3://renkei-data/eta/bundles/")
                )
        finally:
            stop_process(proc, timeout=120)  # SIGTERM: uvicorn ends, the capture drains
            output = log.read_text()
            log.unlink()
    # uvicorn ends by SIGTERM after its shutdown (the capture writer drained)
    assert proc.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output, output
    # the answer was captured under the production data root (moto's S3)
    keys = [
        o["Key"]
        for o in boto3.client("s3", endpoint_url=moto_server)
        .list_objects_v2(Bucket="renkei-data", Prefix="eta/capture/")
        .get("Contents", [])
    ]
    assert any(k.endswith(".parquet") for k in keys), (keys, output[-3000:])

    # deployed again with other settings: a new task definition revision rolls the service;
    # the load balancer and the target group stay the same
    data = yaml.safe_load(aws_path.read_text())
    data["service"]["scaling"] = {"metric": "requests", "target": 3000}
    aws_path.write_text(yaml.safe_dump(data, sort_keys=False))
    deploy_service(moto_server, here, monkeypatch)
    [svc] = ecs.describe_services(cluster=s.cluster, services=[s.name])["services"]
    assert svc["taskDefinition"].endswith(":2")
    assert sent["UpdateService"]["deploymentConfiguration"] == create["deploymentConfiguration"]
    assert len(elb.describe_load_balancers()["LoadBalancers"]) == 1
    assert [t["TargetGroupArn"] for t in elb.describe_target_groups()["TargetGroups"]] == [
        tg["TargetGroupArn"]
    ]
    [policy] = scaling.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert policy["PolicyName"] == "renkei-serve-requests"  # the CPU policy is gone
    spec = policy["TargetTrackingScalingPolicyConfiguration"]
    label = spec["PredefinedMetricSpecification"]["ResourceLabel"]
    assert label.startswith("app/renkei-serve/") and "/targetgroup/renkei-serve/" in label


@pytest.mark.slow
def test_dry_run_writes_the_service_definitions_and_deploys_nothing(
    moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service_world(moto_server, tmp_path)
    deploy_service(moto_server, tmp_path, monkeypatch, "--dry-run", "--out", str(tmp_path / "o"))
    d = json.loads((tmp_path / "o" / "service.json").read_text())
    [container] = d["task_definition"]["containerDefinitions"]
    assert container["command"][:2] == ["sh", "-c"]
    assert "renkei deploy fetch-settings" in container["command"][2]
    assert 'serve --host "$RENKEI_HOST" --port "$RENKEI_PORT"' in container["command"][2]
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["RENKEI_HOST"] == "0.0.0.0" and env["RENKEI_PORT"] == "8000"
    assert env["RENKEI_SETTINGS"].startswith("s3://renkei-data/eta/deploy/settings/")
    assert d["target_group"]["HealthCheckPath"] == "/health"
    clusters = boto3.client("ecs", endpoint_url=moto_server).list_clusters()["clusterArns"]
    assert not [c for c in clusters if c.endswith(":cluster/renkei")], clusters  # Batch's only
    assert (
        boto3.client("elbv2", endpoint_url=moto_server).describe_load_balancers()["LoadBalancers"]
        == []
    )
    listed = boto3.client("s3", endpoint_url=moto_server).list_objects_v2(
        Bucket="renkei-data", Prefix="eta/deploy/"
    )
    assert "Contents" not in listed  # the settings are uploaded only by a real deployment


@pytest.mark.slow
def test_print_iam_grants_the_service_only_what_it_does(moto_server: str, tmp_path: Path) -> None:
    aws_path = service_world(
        moto_server, tmp_path, image="123456789012.dkr.ecr.us-east-1.amazonaws.com/renkei:serve"
    )
    project = write_project(tmp_path)
    args = ["--config", str(project), "deploy", "aws", "--aws-config", str(aws_path)]
    out = CliRunner().invoke(cli, [*args, "--service", "--print-iam"])
    assert out.exit_code == 0, out.output
    policies = json.loads(out.output)
    assert set(policies) == {"service_task_role", "service_execution_role"}
    iam = boto3.client("iam", endpoint_url=moto_server)
    for role, p in policies.items():  # valid documents, attached to the roles
        arn = iam.create_policy(PolicyName=role, PolicyDocument=json.dumps(p["policy"]))
        iam.attach_role_policy(RoleName=p["role"].rsplit("/", 1)[1], PolicyArn=arn["Policy"]["Arn"])

    def grants(role: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for st in policies[role]["policy"]["Statement"]:
            for a in st["Action"]:
                res = st["Resource"]
                out.setdefault(a, []).extend(res if isinstance(res, list) else [res])
        return out

    task = grants("service_task_role")
    assert sorted(task) == [
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "secretsmanager:GetSecretValue",
    ]
    assert sorted(task["s3:GetObject"]) == [
        "arn:aws:s3:::renkei-data/eta/bundles/*",
        "arn:aws:s3:::renkei-data/eta/deploy/settings/*",
    ]
    assert (
        task["s3:PutObject"]
        == task["s3:DeleteObject"]
        == ["arn:aws:s3:::renkei-data/eta/capture/*"]
    )
    assert task["secretsmanager:GetSecretValue"] == [
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:renkei/ledger-url-??????"
    ]
    execution = grants("service_execution_role")
    assert execution["logs:PutLogEvents"] == [
        "arn:aws:logs:us-east-1:123456789012:log-group:/renkei/serve:*"
    ]
    assert execution["ecr:BatchGetImage"] == [
        "arn:aws:ecr:us-east-1:123456789012:repository/renkei"
    ]
    # no `*` resource where an ARN is known: only ECR's login takes none
    for role in policies:
        for action, resources in grants(role).items():
            assert "*" not in resources or action == "ecr:GetAuthorizationToken", (role, action)


def test_the_serving_image_installs_the_project_and_runs_renkei_serve_as_a_user() -> None:
    """No Docker engine here: the image is checked by reading its Dockerfile, as the
    production emulation reads the Batch images'."""
    lines = [x.strip() for x in SERVE_DOCKERFILE.read_text().splitlines()]
    steps = [x for x in lines if x and not x.startswith("#")]
    # the dependencies are pyproject.toml's: the project itself is what pip installs
    assert "COPY pyproject.toml README.md ./" in steps and "COPY shared ./shared" in steps
    installs = [x for x in steps if "pip install" in x]
    assert installs and all(x.rstrip(" \\").endswith(" .") for x in installs), installs
    # a non-root user, set before the command
    [user] = [x.split()[1] for x in steps if x.startswith("USER ")]
    assert user not in ("root", "0") and "useradd" in "".join(steps)
    [cmd] = [json.loads(x[4:]) for x in steps if x.startswith("CMD ")]
    assert steps.index(f"USER {user}") < steps.index(f"CMD {json.dumps(cmd)}")
    port = load_aws(REPO / "config" / "aws.yaml").service.container_port
    assert cmd == ["renkei", "serve", "--host", "0.0.0.0", "--port", str(port)]
    assert f"EXPOSE {port}" in steps
    env = dockerfile_env(str(SERVE_DOCKERFILE))
    assert env["RENKEI_HOST"] == "0.0.0.0" and env["RENKEI_PORT"] == str(port)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"stop_timeout_seconds": 30},  # project.yaml: shutdown 10 s, capture drain 20 s
            "stop_timeout_seconds 30 is shorter than the service's shutdown (10 s) and capture "
            "drain (20 s, project.yaml) plus 10 s",
        ),
        (
            {"min_healthy_percent": 0, "min_count": 1, "desired_count": 1},
            "min_healthy_percent 0 lets a rolling deployment stop every one of 1 tasks",
        ),
        ({"max_percent": 100}, "min_healthy_percent 100 with max_percent 100"),
        ({"memory": 1024}, "cpu 1024 with memory 1024 is no Fargate task size"),
        ({"log_retention_days": 10}, "log_retention_days 10 is not a period CloudWatch Logs"),
        ({"desired_count": 9}, "desired_count 9 <= max_count 6 does not hold"),
        ({"subnets": ["subnet-1"]}, "field 'service.subnets': List should have at least 2"),
    ],
)
def test_service_settings_that_could_not_serve_are_refused_in_one_line(
    tmp_path: Path, change: dict, problem: str
) -> None:
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    data["service"].update(change)
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    out = CliRunner().invoke(cli, ["deploy", "aws", "--service", "--aws-config", str(path)])
    assert out.exit_code != 0
    [line] = out.output.strip().splitlines()
    assert line.startswith(f"Error: {path}: field 'service") and problem in line, line


def test_a_keep_alive_shorter_than_the_load_balancers_is_refused(tmp_path: Path) -> None:
    project = write_project(tmp_path, service__keep_alive_seconds=60)
    aws = str(REPO / "config" / "aws.yaml")
    out = CliRunner().invoke(
        cli, ["--config", str(project), "deploy", "aws", "--service", "--aws-config", aws]
    )
    assert out.exit_code != 0
    [line] = out.output.strip().splitlines()
    assert line.startswith(f"Error: {project}: field 'service.keep_alive_seconds'"), line
    assert "not above the load balancer's idle timeout (60 s)" in line, line


def test_service_needs_its_section(tmp_path: Path) -> None:
    data = yaml.safe_load((REPO / "config" / "aws.yaml").read_text())
    del data["service"]
    path = tmp_path / "aws.yaml"
    path.write_text(yaml.safe_dump(data))
    project = write_project(tmp_path)
    args = ["--config", str(project), "deploy", "aws", "--aws-config", str(path), "--service"]
    out = CliRunner().invoke(cli, [*args, "--settings-out", str(tmp_path / "p")])
    assert out.exit_code != 0 and "no service: section" in out.output, out.output
    assert not (tmp_path / "p").exists()  # refused before anything is written
