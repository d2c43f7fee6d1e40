"""Production on AWS: deploy the flows to Step Functions with `step-functions create`.

`renkei deploy aws` freezes, per flow, the project config with the production data root
and ledger, config/aws.yaml and a `deploy` config (target aws) into the code package; the
flows' ``@production`` mutator then adds ``@schedule``, ``@batch`` (GPU queue for GPU steps),
``@retry`` and ``@timeout``. Metaflow's own settings come as ``METAFLOW_*`` variables built
here from config/aws.yaml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.config import AwsConfig, ProjectSet

FLOW_FILES = {
    "IngestFlow": "ingest_flow.py",
    "TrainFlow": "train_flow.py",
    "ScoreFlow": "score_flow.py",
    "MonitorFlow": "monitor_flow.py",
}


class DeployError(RuntimeError):
    """A deployment failed; the message says which flow and why."""


@dataclass(frozen=True)
class DeployResult:
    flow: str
    state_machine: str
    schedule: str | None
    queues: list[str]
    json_path: str | None


def metaflow_env(aws: AwsConfig) -> dict[str, str]:
    """The Metaflow settings `step-functions create` needs, from config/aws.yaml."""
    return {
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


def production_project(pset: ProjectSet, aws: AwsConfig) -> dict:
    """The project set as deployed (project, rules, roles and costs frozen together): data
    on S3, the production ledger."""
    data = pset.frozen()
    ledger = aws.ledger.url or f"secretsmanager:{aws.ledger.secret_name}"
    data["storage"] = {"data_root": aws.s3.data_root, "ledger_url": ledger}
    return data


def deploy_flow(
    flow: str,
    pset: ProjectSet,
    aws: AwsConfig,
    aws_path: str,
    repo: Path,
    dry_run: bool,
    out_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> DeployResult:
    """Run `step-functions create` (or `--only-json`) for one flow on the production branch."""
    if flow not in FLOW_FILES:
        raise DeployError(f"unknown flow {flow!r} (known: {', '.join(FLOW_FILES)})")
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(production_project(pset, aws), f)
    cmd = [
        sys.executable,
        str(repo / "flows" / FLOW_FILES[flow]),
        "--config",
        "project",
        f.name,
        "--config",
        "aws",
        aws_path,
        "--config-value",
        "deploy",
        json.dumps({"target": "aws", "flow": flow}),
        "--datastore",
        "s3",
        "--production",
        "step-functions",
        "create",
    ]
    if dry_run:
        cmd.append("--only-json")
    env = {**os.environ, **metaflow_env(aws), **(extra_env or {})}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=repo, env=env)
    os.unlink(f.name)
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
