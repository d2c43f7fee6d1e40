"""Running flows in tests: Metaflow's Runner (API) and the flow file as a user types it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from metaflow import Runner

from tests.conftest import REPO

INGEST = str(REPO / "flows" / "ingest_flow.py")
TRAIN = str(REPO / "flows" / "train_flow.py")
SCORE = str(REPO / "flows" / "score_flow.py")
MONITOR = str(REPO / "flows" / "monitor_flow.py")


def flow_env(**extra: str) -> dict[str, str]:
    return {
        "METAFLOW_USER": os.environ.get("METAFLOW_USER", "renkei-test"),
        "METAFLOW_DEFAULT_METADATA": "local",
        "METAFLOW_DEFAULT_DATASTORE": "local",
        "RENKEI_LEDGER_URL": "",
        "RENKEI_INJECT_FAULT": "",
        **extra,
    }


def run_flow(
    flow: str,
    project: Path,
    env: dict[str, str] | None = None,
    configs: dict[str, Path] | None = None,
    **params: Any,
):
    """Run a flow through Runner (``configs``: more ``--config NAME PATH``, e.g. rules);
    returns (run, status, stdout, stderr)."""
    more = [(name, str(path)) for name, path in (configs or {}).items()]
    with Runner(
        flow,
        show_output=False,
        env=flow_env(**(env or {})),
        cwd=str(REPO),
        config=[("project", str(project)), *more],
    ) as r:
        result = r.run(**params)
        return result.run, result.status, result.stdout, result.stderr


def cli_run(
    flow: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run ``python flows/X.py ARGS`` from the repository root."""
    return subprocess.run(
        [sys.executable, flow, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **flow_env(**(env or {}))},
        cwd=REPO,
        timeout=600,
    )
