"""Production on AWS: deploy the flows to Step Functions with `step-functions create`.

`renkei deploy aws` first writes the production settings folder (``deploy/production/``:
project.yaml with the S3 data root and the production ledger's source, and copies of the
rules, roles, costs and aws files), which operators then use for promote, approve and the
app. It freezes, per flow, that project config, the aws settings and a `deploy` config
(target aws) into the code package; the flows' ``@production`` mutator then adds
``@schedule``, ``@batch`` and ``@resources`` (GPU queue for GPU steps), ``@retry`` and
``@timeout``. Metaflow's own settings come as ``METAFLOW_*`` variables built here from
config/aws.yaml. :func:`iam_policies` drafts the least-privilege policy of each role.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shared.config import AwsConfig, ProjectConfig, ProjectSet
from shared.paths import FLOW_FILES, flow_file



class DeployError(RuntimeError):
    """A deployment failed; the message says which flow and why."""


@dataclass(frozen=True)
class DeployResult:
    flow: str
    state_machine: str
    schedule: str | None
    queues: list[str]
    json_path: str | None


def freeze_yaml(data: Mapping[str, Any], path: Path) -> Path:
    """Write settings to ``path`` exactly as declared: key order kept (``yaml.safe_dump``
    sorts keys by default, which reorders the features a model is trained on)."""
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True))
    return path


@contextmanager
def frozen_yaml(data: Mapping[str, Any]) -> Iterator[str]:
    """A temporary YAML file holding ``data`` as declared (see :func:`freeze_yaml`)."""
    with tempfile.TemporaryDirectory(prefix="renkei-config-") as tmp:
        yield str(freeze_yaml(data, Path(tmp) / "project.yaml"))


SETTINGS_FILES = ("rules", "roles", "costs", "aws")


def write_production_settings(out: Path, pset: ProjectSet, aws_path: str | Path) -> Path:
    """The production project folder operators use (``renkei --project OUT``): project.yaml
    with the S3 data root and the production ledger's source, and a copy of the project's
    rules, roles and costs files and of the aws settings as ``NAME.yaml`` beside it."""
    from shared.config import load_aws

    sources = {**{k: pset.sources[k] for k in ("rules", "roles", "costs")}, "aws": aws_path}
    out.mkdir(parents=True, exist_ok=True)
    for name in SETTINGS_FILES:
        src = Path(sources[name])
        if not src.is_file():
            raise DeployError(f"{src}: {name} file not found")
        if src.resolve() != (out / f"{name}.yaml").resolve():
            shutil.copyfile(src, out / f"{name}.yaml")
    aws = load_aws(out / "aws.yaml")
    return freeze_yaml(production_project(pset.project, aws), out / "project.yaml")


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


def production_project(cfg: ProjectConfig, aws: AwsConfig) -> dict:
    """The project config as deployed: data on S3, the production ledger, and the files of
    the production settings folder (rules, roles, costs and aws beside it)."""
    data = cfg.model_dump(mode="json")
    ledger = aws.ledger.url or f"secretsmanager:{aws.ledger.secret_name}"
    data["storage"] = {"data_root": aws.s3.data_root, "ledger_url": ledger}
    data["files"] = {name: f"{name}.yaml" for name in SETTINGS_FILES}
    return data


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
        str(flow_file(flow, repo / "flows")),
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


def _bucket_and_prefix(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


def _s3_statements(sid: str, roots: list[str], write: bool) -> list[dict[str, Any]]:
    """List the buckets under the roots' prefixes; read (and write) objects under them."""
    out: list[dict[str, Any]] = []
    for i, root in enumerate(roots):
        bucket, prefix = _bucket_and_prefix(root)
        under = f"{prefix}/*" if prefix else "*"
        out.append(
            {
                "Sid": f"{sid}List{i}",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
                **({"Condition": {"StringLike": {"s3:prefix": [prefix, under]}}} if prefix else {}),
            }
        )
        actions = ["s3:GetObject", *(["s3:PutObject"] if write else [])]
        out.append(
            {
                "Sid": f"{sid}Objects{i}",
                "Effect": "Allow",
                "Action": actions,
                "Resource": f"arn:aws:s3:::{bucket}/{under}",
            }
        )
    return out


def _policy(statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements}


def state_machine_arn(aws: AwsConfig, project: str, flow: str, branch: str = "prod") -> str:
    """The ARN `step-functions create` gives a flow's state machine (``@project`` naming)."""
    account = aws.iam.step_functions_role.split(":")[4]
    return f"arn:aws:states:{aws.region}:{account}:stateMachine:{project}.{branch}.{flow}"


def iam_policies(cfg: ProjectConfig, aws: AwsConfig) -> dict[str, dict[str, Any]]:
    """The least-privilege policy each role needs, from the settings: the Batch job role
    (tasks: both S3 roots, the ledger secret, foreach bookkeeping, starting retraining),
    the Step Functions role (submit and watch Batch jobs), the EventBridge role (start the
    scheduled state machines) and an operator (promote, approve, the app: the data root and
    the ledger secret). Keyed by role; each ``{"role": ARN or None, "policy": document}``."""
    account = aws.iam.batch_job_role.split(":")[4]
    region = aws.region
    table = f"arn:aws:dynamodb:{region}:{account}:table/{aws.dynamodb_table}"
    machines = [state_machine_arn(aws, cfg.name, f) for f in FLOW_FILES]
    secret: list[dict[str, Any]] = []
    if aws.ledger.secret_name and not aws.ledger.url:
        secret = [
            {
                "Sid": "LedgerSecret",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                # Secrets Manager appends six random characters to a secret's ARN
                "Resource": f"arn:aws:secretsmanager:{region}:{account}:secret:"
                f"{aws.ledger.secret_name}-??????",
            }
        ]
    batch_job = _s3_statements("Data", [aws.s3.datastore_root, aws.s3.data_root], write=True)
    batch_job += secret
    batch_job += [
        {
            "Sid": "ForeachBookkeeping",
            "Effect": "Allow",
            "Action": ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"],
            "Resource": table,
        },
        {  # the monitor flow finds and starts the train state machine (retraining)
            "Sid": "FindTrainStateMachine",
            "Effect": "Allow",
            "Action": ["states:ListStateMachines"],
            "Resource": "*",  # List* takes no resource-level permission
        },
        {
            "Sid": "StartRetraining",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": state_machine_arn(aws, cfg.name, "TrainFlow"),
        },
    ]
    queues = [
        f"arn:aws:batch:{region}:{account}:job-queue/{q}"
        for q in (aws.batch.cpu_queue, aws.batch.gpu_queue)
    ]
    step_functions = [
        {
            "Sid": "SubmitBatchJobs",
            "Effect": "Allow",
            "Action": ["batch:SubmitJob"],
            "Resource": [*queues, f"arn:aws:batch:{region}:{account}:job-definition/*"],
        },
        {
            "Sid": "WatchBatchJobs",
            "Effect": "Allow",
            "Action": ["batch:DescribeJobs", "batch:TerminateJob"],
            "Resource": "*",  # job ids are not known in advance
        },
        {  # the .sync integration listens for Batch job events through this rule
            "Sid": "BatchJobEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": f"arn:aws:events:{region}:{account}:rule/"
            "StepFunctionsGetEventsForBatchJobsRule",
        },
        {
            "Sid": "ForeachBookkeeping",
            "Effect": "Allow",
            "Action": ["dynamodb:GetItem"],
            "Resource": table,
        },
    ]
    eventbridge = [
        {
            "Sid": "StartScheduledRuns",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": machines,
        }
    ]
    operator = _s3_statements("Data", [aws.s3.data_root], write=True) + secret
    return {
        "batch_job_role": {"role": aws.iam.batch_job_role, "policy": _policy(batch_job)},
        "step_functions_role": {
            "role": aws.iam.step_functions_role,
            "policy": _policy(step_functions),
        },
        "eventbridge_role": {"role": aws.iam.eventbridge_role, "policy": _policy(eventbridge)},
        "operator": {"role": None, "policy": _policy(operator)},
    }
