"""Retraining start: the monitor flow starts the train flow, locally or as the deployed
state machine (it never promotes)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shared.monitor.monitoring import MonitoringError

if TYPE_CHECKING:
    from metaflow.runner.metaflow_runner import ExecutingRun


def start_training_run(project: dict[str, Any], flows_dir: str) -> str:
    """Run the train flow locally with the given frozen project set (project.yaml with its
    rules, roles and costs, as the monitor flow's ``project`` Config holds them), so the
    retrain uses the project's rules, through Metaflow's ``Runner``, which hands back the
    run; return its pathspec. Raises MonitoringError with the run's last output when it
    fails or cannot start."""
    import os

    from metaflow import Runner  # here: the import reloads Metaflow's CLI modules

    from shared.deploy import frozen_yaml
    from shared.paths import FLOW_FILES

    flow = os.path.join(flows_dir, FLOW_FILES["TrainFlow"])
    with frozen_yaml(project) as path:
        try:
            with Runner(flow, show_output=False, config=[("project", path)]) as runner:
                done = runner.run()
                status, pathspec = done.status, done.run.pathspec
                err = "" if status == "successful" else _failed_output(done)
        except Exception as e:  # noqa: BLE001 - a run that cannot start says why, in one line
            raise MonitoringError(
                f"the retraining run could not start: {type(e).__name__}: {e}"
            ) from None
    if status != "successful":
        raise MonitoringError(f"the retraining run {pathspec} {status}:\n{err[-2000:]}")
    return pathspec


def _failed_output(done: ExecutingRun) -> str:
    """What the failed task said (its own stderr, where a step's error line is), else the
    run command's output."""
    try:
        for step in done.run:
            for task in step:
                if not task.successful and task.stderr.strip():
                    return f"{task.pathspec}: {task.stderr.strip()}"
    except Exception:  # noqa: BLE001, S110 - the command's own output says enough then
        pass
    return done.stdout + done.stderr


def start_production_training(project_name: str, branch: str = "prod") -> str:
    """Start the deployed train state machine (``<project>.<branch>.TrainFlow``) on AWS Step
    Functions; return the execution ARN. Used when the monitor flow itself runs deployed."""
    import json

    import boto3

    sfn = boto3.client("stepfunctions")
    name = f"{project_name}.{branch}.TrainFlow"
    machines = [
        m for p in sfn.get_paginator("list_state_machines").paginate() for m in p["stateMachines"]
    ]
    found = [m for m in machines if m["name"] == name]
    if not found:
        raise MonitoringError(f"no deployed state machine {name!r}: run `renkei deploy aws` first")
    run = sfn.start_execution(
        stateMachineArn=found[0]["stateMachineArn"], input=json.dumps({"Parameters": "{}"})
    )
    return run["executionArn"]
