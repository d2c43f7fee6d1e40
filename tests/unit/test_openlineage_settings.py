"""OpenLineage settings: off unless configured the client's standard ways; the deployed
tasks' environment; a collector that never answers costs a step a bounded wait, said once."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from shared.config.settings import (
    lineage_configured,
    lineage_environment,
    lineage_parent,
    lineage_parent_environment,
)
from shared.flowkit import openlineage
from shared.reports.openlineage import run_uuid


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:5000"}, True),
        ({"OPENLINEAGE_URL": ""}, False),
        ({"OPENLINEAGE__TRANSPORT__TYPE": "console"}, True),
        ({"OPENLINEAGE_CONFIG": "/somewhere/openlineage.yml"}, True),
        ({"OPENLINEAGE_URL": "http://127.0.0.1:5000", "OPENLINEAGE_DISABLED": "true"}, False),
    ],
)
def test_lineage_is_off_unless_configured(tmp_path: Path, env: dict, on: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    old = os.environ.get("HOME")
    os.environ["HOME"] = str(home)  # no ~/.openlineage/openlineage.yml of the machine's
    try:
        assert lineage_configured(env, cwd=str(tmp_path)) is on
        (tmp_path / "openlineage.yml").write_text("transport: {type: console}\n")
        assert lineage_configured(env, cwd=str(tmp_path)) is (
            env.get("OPENLINEAGE_DISABLED") != "true"
        )
    finally:
        if old is None:
            os.environ.pop("HOME")
        else:
            os.environ["HOME"] = old


def test_deployed_tasks_get_the_collector_from_the_production_settings() -> None:
    assert lineage_environment({"url": None, "endpoint": "api/v1/lineage"}) == {}
    assert lineage_environment({"url": "http://marquez:5000", "endpoint": "api/v2/x"}) == {
        "OPENLINEAGE_URL": "http://marquez:5000",
        "OPENLINEAGE_ENDPOINT": "api/v2/x",
    }


def test_the_parent_run_passes_through_the_environment() -> None:
    env = lineage_parent_environment("MonitorFlow/17")
    assert lineage_parent(env) == "MonitorFlow/17" and lineage_parent({}) is None
    before = dict(os.environ)
    with openlineage.started_by("MonitorFlow/17"):
        assert lineage_parent() == "MonitorFlow/17"
    assert dict(os.environ) == before
    # the run id is derived from the project and pathspec alone: stable across processes
    assert run_uuid("eta", "MonitorFlow/17") == run_uuid("eta", "MonitorFlow/17")
    assert run_uuid("eta", "MonitorFlow/17") != run_uuid("eta", "MonitorFlow/18")


def test_a_collector_that_never_answers_costs_a_bounded_wait_said_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    silent = socket.socket()  # accepts connections (the kernel's backlog), never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    before = dict(os.environ)
    os.environ["OPENLINEAGE_URL"] = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        d = openlineage._Delivery()
        t0 = time.monotonic()
        for kind in ("START", "COMPLETE", "FAIL"):
            d.send({"eventType": kind, "run": {"runId": "x"}})
        took = time.monotonic() - t0
    finally:
        os.environ.clear()
        os.environ.update(before)  # the client aliases OPENLINEAGE_URL into more variables
        silent.close()
    # the client alone would wait 5 s per try, with retries, per event: minutes
    assert took < openlineage.DELIVERY_BUDGET_S + 10, took
    assert d.failed == 3
    said = [x for x in capsys.readouterr().err.splitlines() if "lineage events:" in x]
    assert len(said) == 1 and "not delivered" in said[0], said
