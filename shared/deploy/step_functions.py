"""One flow deployed with `step-functions create`, Metaflow's settings built from the aws settings."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.config import AwsConfig
from shared.paths import FLOW_FILES, flow_file, flows_dir

from .settings import DeployError


@dataclass(frozen=True)
class DeployResult:
    flow: str
    state_machine: str
    schedule: str | None
    queues: list[str]
    json_path: str | None


def metaflow_env(aws: AwsConfig) -> dict[str, str]:
    """The Metaflow settings `step-functions create` needs, from config/aws.yaml."""
    service = (
        {"METAFLOW_DEFAULT_METADATA": "service", "METAFLOW_SERVICE_URL": aws.metadata.service_url}
        if aws.metadata.service_url
        else {}
    )
    return {
        **service,
        "AWS_DEFAULT_REGION": aws.region,
        "METAFLOW_DEFAULT_DATASTORE": "s3",
        "METAFLOW_DATASTORE_SYSROOT_S3": aws.s3.datastore_root,
        "METAFLOW_BATCH_JOB_QUEUE": aws.batch.cpu_queue,
        "METAFLOW_BATCH_CONTAINER_IMAGE": aws.batch.image,
        "METAFLOW_ECS_S3_ACCESS_IAM_ROLE": aws.iam.batch_job_role,
        "METAFLOW_SFN_IAM_ROLE": aws.iam.step_functions_role,
        "METAFLOW_EVENTS_SFN_ACCESS_IAM_ROLE": aws.iam.eventbridge_role,
        "METAFLOW_SFN_DYNAMO_DB_TABLE": aws.dynamodb_table,
    }


def deploy_flow(
    flow: str,
    settings: Path,
    aws: AwsConfig,
    repo: Path,
    dry_run: bool,
    out_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> DeployResult:
    """Run `step-functions create` (or `--only-json`) for one flow on the production branch,
    freezing the production settings folder ``settings`` into its code package."""
    if flow not in FLOW_FILES:
        raise DeployError(f"unknown flow {flow!r} (known: {', '.join(FLOW_FILES)})")
    configs = ["--config", "project", str(settings / "project.yaml")]
    configs += ["--config", "aws", str(settings / "aws.yaml")]
    cmd = [
        sys.executable,
        str(flow_file(flow, flows_dir(repo))),
        *configs,
        "--config-value",
        "deploy",
        json.dumps({"target": "aws", "flow": flow}),
        "--datastore",
        "s3",
        "--production",
        "step-functions",
        "create",
    ]
    if flow in aws.distributed_map:  # the partition foreach as a distributed map
        cmd.append("--use-distributed-map")
    if dry_run:
        cmd.append("--only-json")
    env = {**os.environ, **metaflow_env(aws), **(extra_env or {})}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, env=env)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-12:]
        raise DeployError(f"{flow}: step-functions create failed:\n" + "\n".join(tail))
    name_match = re.search(
        r"Deploying \*?([^* ]+)\*? to AWS Step Functions", done.stdout + done.stderr
    )
    name = name_match.group(1) if name_match else flow
    json_path = None
    if dry_run:
        start = done.stdout.find("{")
        definition = json.loads(done.stdout[start:])
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path = str(out_dir / f"{flow}.json")
        Path(json_path).write_text(json.dumps(definition, indent=2))
    queues = sorted(
        {aws.batch.cpu_queue} | ({aws.batch.gpu_queue} if flow == "TrainFlow" else set())
    )
    return DeployResult(flow, name, aws.schedules.get(flow), queues, json_path)


def state_machine_arn(aws: AwsConfig, project: str, flow: str, branch: str = "prod") -> str:
    """The ARN `step-functions create` gives a flow's state machine (``@project`` naming)."""
    account = aws.iam.step_functions_role.split(":")[4]
    return f"arn:aws:states:{aws.region}:{account}:stateMachine:{project}.{branch}.{flow}"
