"""Retraining start: the monitor flow starts the train flow, locally or as the deployed
state machine (it never promotes)."""

from __future__ import annotations

from typing import Any

from shared.monitor.monitoring import MonitoringError


def start_training_run(project: dict[str, Any], flows_dir: str) -> str:
    """Start the train flow locally with the given frozen project set (project.yaml with
    its rules, roles and costs, as the monitor flow's ``project`` Config holds them), so the
    retrain uses the project's rules; return its pathspec. Raises MonitoringError with the
    run's last output when it fails."""
    import os
    import subprocess
    import sys

    from shared.deploy import frozen_yaml
    from shared.paths import FLOW_FILES

    with frozen_yaml(project) as path:
        cmd = [
            sys.executable,
            os.path.join(flows_dir, FLOW_FILES["TrainFlow"]),
            "--config",
            "project",
        ]
        done = subprocess.run([*cmd, path, "run"], capture_output=True, text=True)
    if done.returncode != 0:
        raise MonitoringError(f"the retraining run failed:\n{done.stderr[-2000:]}")
    for line in done.stdout.splitlines() + done.stderr.splitlines():
        if "Workflow starting (run-id " in line:
            return "TrainFlow/" + line.split("(run-id ", 1)[1].split(")", 1)[0]
    raise MonitoringError("the retraining run finished but printed no run id")


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
