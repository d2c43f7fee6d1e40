"""The scoring endpoint in production: `renkei serve` on ECS Fargate behind an Application
Load Balancer, every setting from aws.yaml's ``service:`` section.

:func:`service_definitions` says what is created (the log group, the cluster, the task
definition, the ALB, its target group checking ``/health`` and its HTTPS listener, the ECS
service, the target tracking policy); ``--dry-run`` writes it as JSON. :func:`deploy_service`
creates each piece, or updates it when it is there (a new task definition revision rolls the
service). The task reaches the ledger and the bundles as the flows do: the production
settings folder (project.yaml naming the ledger's secret and the S3 data root) is uploaded,
content-addressed, and each task fetches it (``renkei deploy fetch-settings``) before
``renkei serve``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.config import AwsConfig, EndpointSettings, ProjectConfig
from shared.config.endpoint import SHUTDOWN_MARGIN_SECONDS
from shared.data import storage

from .settings import SETTINGS_FILES, DeployError

CONTAINER = "renkei-serve"
HEALTH_PATH = "/health"  # open (no token): what the target group checks
TARGET_GROUP = "<target group ARN>"  # filled in once created (dry run: as written)
LOAD_BALANCER = "<load balancer ARN>"
# what a task runs: fetch the deployed settings into a fresh folder, then serve them
SERVE_SCRIPT = (
    'settings=$(mktemp -d) && renkei deploy fetch-settings "$RENKEI_SETTINGS" "$settings" '
    '&& exec renkei --project "$settings" serve --host "$RENKEI_HOST" --port "$RENKEI_PORT"'
)

# the container's own health check: unhealthy while /health answers nothing or serves no
# model (the ALB's check sees 200 either way), so a task whose bundle cannot load never
# counts as healthy and a rolling deployment stops on it (the circuit breaker rolls back)
HEALTH_SCRIPT = (
    "import json, os, sys, urllib.request; "
    "url = 'http://127.0.0.1:%s/health' % os.environ['RENKEI_PORT']; "
    "sys.exit(json.load(urllib.request.urlopen(url, timeout={t}))['status'] == 'no_model')"
)


@dataclass(frozen=True)
class ServiceResult:
    cluster: str
    service: str
    task_definition: str
    url: str  # https://<the ALB's DNS name>
    settings: str
    json_path: str | None


def endpoint(aws: AwsConfig) -> EndpointSettings:
    """aws.yaml's ``service:`` section; a one-line error when it is missing."""
    if aws.service is None:
        raise DeployError(no_service_section())
    return aws.service


def drain_problem(project: ProjectConfig, aws: AwsConfig) -> str | None:
    """Why the task's stop timeout cannot cover a worker's shutdown (its requests, then its
    capture drain: project.yaml's ``service.shutdown_seconds`` and ``capture.drain_seconds``)
    plus a margin; None when it can. Answers still queued past it would be lost."""
    timeout = endpoint(aws).stop_timeout_seconds
    shutdown, drain = project.service.shutdown_seconds, project.capture.drain_seconds
    need = shutdown + drain + SHUTDOWN_MARGIN_SECONDS
    if timeout >= need:
        return None
    return (
        f"stop_timeout_seconds {timeout} is shorter than the service's shutdown ({shutdown:g} s) "
        f"and capture drain ({drain:g} s, project.yaml) plus {SHUTDOWN_MARGIN_SECONDS} s: "
        f"answers still queued would be lost; set at least {need:g}"
    )


ALB_IDLE_TIMEOUT_SECONDS = 60  # the load balancer's idle timeout (AWS's default; not changed)


def keep_alive_problem(project: ProjectConfig) -> str | None:
    """Why the service would close idle connections before the load balancer does (each
    request the balancer sends as the service closes is reset: a 502); None when it won't."""
    keep = project.service.keep_alive_seconds
    if keep > ALB_IDLE_TIMEOUT_SECONDS:
        return None
    return (
        f"keep_alive_seconds {keep} is not above the load balancer's idle timeout "
        f"({ALB_IDLE_TIMEOUT_SECONDS} s): requests sent as the service closes an idle "
        f"connection would get 502; set more than {ALB_IDLE_TIMEOUT_SECONDS}"
    )


def no_service_section() -> str:
    return (
        "no service: section in the aws settings: add one (config/aws.yaml shows every "
        "setting) to deploy the scoring endpoint"
    )


def settings_uri(folder: Path, aws: AwsConfig) -> str:
    """Where the production settings folder is uploaded: named by its files' content, so a
    task definition revision always reads the settings it was made with."""
    h = hashlib.sha256()
    for name in SETTINGS_FILES + ("project",):
        h.update(name.encode() + b"\0" + (folder / f"{name}.yaml").read_bytes() + b"\0")
    return storage.join(aws.s3.data_root, "deploy", "settings", h.hexdigest()[:16]) + "/"


def upload_settings(folder: Path, uri: str) -> None:
    for name in SETTINGS_FILES + ("project",):
        storage.write_bytes(
            storage.join(uri, f"{name}.yaml"), (folder / f"{name}.yaml").read_bytes()
        )


def fetch_settings(uri: str, dest: Path) -> list[Path]:
    """Copy the settings folder at ``uri`` into ``dest`` (what a task runs first)."""
    names = {f"{n}.yaml" for n in (*SETTINGS_FILES, "project")}
    found = {f.rsplit("/", 1)[-1]: f for f in storage.list_files(uri)}
    if missing := sorted(names - set(found)):
        raise DeployError(
            f"{uri}: no {', '.join(missing)}: deploy the service again "
            "(renkei deploy aws --service uploads the settings)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    for name in sorted(names):
        (dest / name).write_bytes(storage.read_bytes(found[name]))
    return [dest / n for n in sorted(names)]


def health_script(timeout_seconds: int) -> str:
    """The container health check's Python, its request ended before ECS's timeout."""
    return HEALTH_SCRIPT.replace("{t}", str(max(1, timeout_seconds - 1)))


def task_definition(aws: AwsConfig, settings: str) -> dict[str, Any]:
    """ECS RegisterTaskDefinition's arguments: one Fargate container running `renkei serve`."""
    s = endpoint(aws)
    env = {
        "RENKEI_SETTINGS": settings,
        "RENKEI_HOST": "0.0.0.0",
        "RENKEI_PORT": str(s.container_port),
        "AWS_DEFAULT_REGION": aws.region,
    }
    return {
        "family": s.name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(s.cpu),
        "memory": str(s.memory),
        "taskRoleArn": s.task_role,
        "executionRoleArn": s.execution_role,
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "containerDefinitions": [
            {
                "name": CONTAINER,
                "image": s.image,
                "essential": True,
                "command": ["sh", "-c", SERVE_SCRIPT],
                "environment": [{"name": k, "value": v} for k, v in env.items()],
                "portMappings": [{"containerPort": s.container_port, "protocol": "tcp"}],
                "stopTimeout": s.stop_timeout_seconds,
                "healthCheck": {
                    "command": [
                        "CMD",
                        "python",
                        "-c",
                        health_script(s.health_check.timeout_seconds),
                    ],
                    "interval": s.health_check.interval_seconds,
                    "timeout": s.health_check.timeout_seconds,
                    "retries": s.health_check.unhealthy_threshold,
                    "startPeriod": s.health_check_grace_seconds,
                },
                "logConfiguration": {
                    "logDriver": "awslogs",
                    "options": {
                        "awslogs-group": s.log_group,
                        "awslogs-region": aws.region,
                        "awslogs-stream-prefix": "serve",
                    },
                },
            }
        ],
    }


def service_definitions(aws: AwsConfig, settings: str) -> dict[str, Any]:
    """Every request :func:`deploy_service` makes, as its arguments (ARNs not yet known are
    written ``<... ARN>``)."""
    s = endpoint(aws)
    hc = s.health_check
    forward = [{"Type": "forward", "TargetGroupArn": TARGET_GROUP}]
    return {
        "log_group": {"logGroupName": s.log_group, "retentionInDays": s.log_retention_days},
        "cluster": {"clusterName": s.cluster},
        "task_definition": task_definition(aws, settings),
        "load_balancer": {
            "Name": s.name,
            "Type": "application",
            "Scheme": "internet-facing" if s.internet_facing else "internal",
            "Subnets": s.subnets,
            "SecurityGroups": s.load_balancer_security_groups,
        },
        "target_group": {
            "Name": s.name,
            "Protocol": "HTTP",
            "Port": s.container_port,
            "VpcId": s.vpc_id,
            "TargetType": "ip",
            "HealthCheckProtocol": "HTTP",
            "HealthCheckPath": HEALTH_PATH,
            "HealthCheckIntervalSeconds": hc.interval_seconds,
            "HealthCheckTimeoutSeconds": hc.timeout_seconds,
            "HealthyThresholdCount": hc.healthy_threshold,
            "UnhealthyThresholdCount": hc.unhealthy_threshold,
            "Matcher": {"HttpCode": "200"},
        },
        "target_group_attributes": [
            {
                "Key": "deregistration_delay.timeout_seconds",
                "Value": str(s.deregistration_delay_seconds),
            }
        ],
        "listeners": [
            {
                "Protocol": "HTTPS",
                "Port": 443,
                "SslPolicy": s.ssl_policy,
                "Certificates": [{"CertificateArn": s.certificate_arn}],
                "DefaultActions": forward,
            },
            {  # plain HTTP only redirects
                "Protocol": "HTTP",
                "Port": 80,
                "DefaultActions": [
                    {
                        "Type": "redirect",
                        "RedirectConfig": {
                            "Protocol": "HTTPS",
                            "Port": "443",
                            "StatusCode": "HTTP_301",
                        },
                    }
                ],
            },
        ],
        "service": {
            "cluster": s.cluster,
            "serviceName": s.name,
            "taskDefinition": f"{s.name} (the revision registered)",
            "desiredCount": s.desired_count,
            "launchType": "FARGATE",
            "loadBalancers": [
                {
                    "targetGroupArn": TARGET_GROUP,
                    "containerName": CONTAINER,
                    "containerPort": s.container_port,
                }
            ],
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": s.subnets,
                    "securityGroups": s.security_groups,
                    "assignPublicIp": "DISABLED",
                }
            },
            "deploymentConfiguration": {
                "minimumHealthyPercent": s.min_healthy_percent,
                "maximumPercent": s.max_percent,
                "deploymentCircuitBreaker": {"enable": True, "rollback": True},
            },
            "healthCheckGracePeriodSeconds": s.health_check_grace_seconds,
        },
        **scaling_definitions(aws),
    }


def scaling_definitions(aws: AwsConfig, label: str = "<ALB and target group label>") -> dict:
    """Application Auto Scaling's scalable target and target tracking policy."""
    s = endpoint(aws)
    resource = f"service/{s.cluster}/{s.name}"
    metric: dict[str, Any] = (
        {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}
        if s.scaling.metric == "cpu"
        else {"PredefinedMetricType": "ALBRequestCountPerTarget", "ResourceLabel": label}
    )
    where = {
        "ServiceNamespace": "ecs",
        "ResourceId": resource,
        "ScalableDimension": "ecs:service:DesiredCount",
    }
    return {
        "scalable_target": {**where, "MinCapacity": s.min_count, "MaxCapacity": s.max_count},
        "scaling_policy": {
            **where,
            "PolicyName": f"{s.name}-{s.scaling.metric}",
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": s.scaling.target,
                "PredefinedMetricSpecification": metric,
                "ScaleInCooldown": s.scaling.scale_in_cooldown_seconds,
                "ScaleOutCooldown": s.scaling.scale_out_cooldown_seconds,
            },
        },
    }


def write_definitions(aws: AwsConfig, settings: str, out_dir: Path) -> str:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "service.json"
    path.write_text(json.dumps(service_definitions(aws, settings), indent=2))
    return str(path)


def deploy_service(aws: AwsConfig, folder: Path, dry_run: bool, out_dir: Path) -> ServiceResult:
    """Deploy (or, dry run: write ``out_dir/service.json``) the endpoint serving the
    production settings folder ``folder``."""
    s = endpoint(aws)
    uri = settings_uri(folder, aws)
    if dry_run:
        path = write_definitions(aws, uri, out_dir)
        return ServiceResult(s.cluster, s.name, s.name, "", uri, path)
    from .service_aws import apply

    upload_settings(folder, uri)
    task, dns = apply(aws, service_definitions(aws, uri))
    return ServiceResult(s.cluster, s.name, task, f"https://{dns}", uri, None)
