"""Production emulation: run a deployed Step Functions state machine's Batch tasks here.

Test code, not product code. It reads the state machine definition back from moto, walks it
in order (Task, the DynamoDB lookup behind a foreach, the Map over its items, the join),
resolves the `$.`/`$$.` paths the way Step Functions would, and runs each Batch task's real
container command in an empty temporary directory with the environment a Batch container
would have: the `ENV` lines of the image its job definition names (from the image's
Dockerfile), the job role's credentials (assumed through STS, as ECS gives a task its role)
and the job's own environment. Nothing here imports the repository: the code
comes from the package in S3.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass
class TaskRun:
    state: str
    job_id: str
    queue: str
    resources: list[dict[str, str]]
    returncode: int
    output: str


@dataclass
class Execution:
    name: str
    tasks: list[TaskRun] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return bool(self.tasks) and all(t.returncode == 0 for t in self.tasks)


_TOKEN = re.compile(r"\['([^']+)'\]|([^.\[\]]+)")


def resolve(path: str, data: Any, ctx: dict[str, Any]) -> Any:
    """A JSONPath of the small kind Metaflow's state machines use."""
    if path == "$":
        return data
    root, rest = (ctx, path[3:]) if path.startswith("$$.") else (data, path[2:])
    node = root
    for m in _TOKEN.finditer(rest):
        node = node[m.group(1) or m.group(2)]
    return node


def resolve_params(params: Any, data: Any, ctx: dict[str, Any]) -> Any:
    if isinstance(params, dict):
        out = {}
        for k, v in params.items():
            if k.endswith(".$"):
                out[k[:-2]] = resolve(v, data, ctx)
            else:
                out[k] = resolve_params(v, data, ctx)
        return out
    if isinstance(params, list):
        return [resolve_params(v, data, ctx) for v in params]
    return params


def _pick(output_path: str | None, result: Any) -> Any:
    if not output_path:
        return result
    keys = re.findall(r"'([^']+)'", output_path)
    if keys:
        return {k: result[k] for k in keys if k in result}
    if output_path == "$.[0]":
        return result[0]
    return resolve(output_path, result, {})


def dockerfile_env(path: str) -> dict[str, str]:
    """The `ENV KEY=VALUE` settings a Dockerfile bakes into its image."""
    env = {}
    with open(path) as f:
        for line in f:
            if line.startswith("ENV "):
                for pair in line[4:].split():
                    key, _, value = pair.partition("=")
                    env[key] = value
    return env


class Emulator:
    def __init__(
        self, endpoint: str, base_env: dict[str, str], images: dict[str, dict[str, str]]
    ) -> None:
        """``images``: each image's baked-in environment (see :func:`dockerfile_env`)."""
        self.endpoint = endpoint
        self.base_env = base_env
        self.images = images
        self.dynamo = boto3.client("dynamodb", endpoint_url=endpoint)
        self.batch = boto3.client("batch", endpoint_url=endpoint)
        self.sts = boto3.client("sts", endpoint_url=endpoint)

    def _container_env(self, job_definition: str, job_id: str) -> dict[str, str]:
        """What the job definition gives its container: its image's baked-in environment,
        and the job role's credentials, as ECS hands a task its role (an STS session named
        after the job, so that STS answers the task with the job role's assumed-role ARN)."""
        [jd] = self.batch.describe_job_definitions(jobDefinitions=[job_definition])[
            "jobDefinitions"
        ]
        props = jd["containerProperties"]
        image = props["image"]
        if image not in self.images:
            raise KeyError(f"job definition {job_definition} runs unknown image {image}")
        if not props.get("jobRoleArn"):
            raise KeyError(f"job definition {job_definition} names no job role")
        creds = self.sts.assume_role(RoleArn=props["jobRoleArn"], RoleSessionName=job_id)[
            "Credentials"
        ]
        return {
            **self.images[image],
            "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
            "AWS_SESSION_TOKEN": creds["SessionToken"],
        }

    def run(self, definition: dict[str, Any], name: str, parameters: dict[str, Any]) -> Execution:
        execution = Execution(name)
        data = {"Parameters": json.dumps(parameters)}
        ctx = {"Execution": {"Name": name}}
        self._states(definition["States"], definition["StartAt"], data, ctx, execution)
        return execution

    def _states(self, states: dict, start: str, data: Any, ctx: dict, ex: Execution) -> Any:
        name = start
        while True:
            st = states[name]
            resource = st.get("Resource", "")
            if st["Type"] == "Task" and "batch:submitJob" in resource:
                result = self._batch(name, st, data, ctx, ex)
                if result is None:
                    return None
                out = _pick(st.get("OutputPath"), result)
            elif st["Type"] == "Task" and "dynamodb:getItem" in resource:
                p = resolve_params(st["Parameters"], data, ctx)
                item = self.dynamo.get_item(
                    TableName=p["TableName"], Key=p["Key"], ConsistentRead=True
                )
                out = {**data, st["ResultPath"][2:]: {"Item": item.get("Item", {})}}
            elif st["Type"] == "Map":
                items = resolve(st["ItemsPath"], data, ctx)
                it = st.get("Iterator") or st["ItemProcessor"]
                outs = []
                for item in items:
                    ictx = {**ctx, "Map": {"Item": {"Value": item}}}
                    outs.append(
                        self._states(
                            it["States"],
                            it["StartAt"],
                            resolve_params(st["Parameters"], data, ictx),
                            ctx,
                            ex,
                        )
                    )
                    if outs[-1] is None:
                        return None
                out = _pick(st.get("OutputPath"), outs)
            else:
                raise NotImplementedError(f"state {name}: {st['Type']} {resource}")
            if st.get("End"):
                return out
            name, data = st["Next"], out

    def _batch(self, name: str, st: dict, data: Any, ctx: dict, ex: Execution) -> dict | None:
        p = resolve_params(st["Parameters"], data, ctx)
        over = p["ContainerOverrides"]
        job_id = uuid.uuid4().hex
        env = {**self.base_env, **self._container_env(p["JobDefinition"], job_id)}
        for e in over.get("Environment", []):
            env[e["Name"]] = str(e["Value"])
        env.update(
            AWS_BATCH_JOB_ID=job_id,
            AWS_BATCH_JOB_ATTEMPT="1",
            AWS_BATCH_CE_NAME="emulated-ce",
            AWS_BATCH_JQ_NAME=p["JobQueue"].rsplit("/", 1)[-1],
            AWS_EXECUTION_ENV="AWS_ECS_EC2",
        )
        with tempfile.TemporaryDirectory(prefix="batch-") as work:
            done = subprocess.run(
                over["Command"], cwd=work, env=env, capture_output=True, text=True, timeout=600
            )
        ex.tasks.append(
            TaskRun(
                name,
                job_id,
                p["JobQueue"],
                over.get("ResourceRequirements", []),
                done.returncode,
                (done.stdout + done.stderr)[-4000:],
            )
        )
        if done.returncode != 0:
            return None
        return {"JobId": job_id, "Parameters": p.get("Parameters", {})}


def task_env(venv_bin: str, aws_env: dict[str, str], endpoint: str) -> dict[str, str]:
    """What a Batch container would have besides the job's own environment."""
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        # a home of its own (a container's), under the test process's (tests/conftest.py)
        "HOME": tempfile.mkdtemp(prefix="task-home-", dir=os.environ.get("HOME")),
        "LANG": "C.UTF-8",
        **aws_env,
        "AWS_ENDPOINT_URL": endpoint,
        "METAFLOW_S3_ENDPOINT_URL": endpoint,
        "PYTHONNOUSERSITE": "1",
    }


def definition(endpoint: str, flow: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint)
    [m] = [m for m in sfn.list_state_machines()["stateMachines"] if f".{flow}" in m["name"]]
    return json.loads(
        sfn.describe_state_machine(stateMachineArn=m["stateMachineArn"])["definition"]
    )


__all__ = ["Emulator", "Execution", "TaskRun", "definition", "dockerfile_env", "task_env", "os"]
