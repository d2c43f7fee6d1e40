"""OpenLineage from every flow run, as a collector receives it: a recording HTTP server on
loopback gets START and COMPLETE from ingest, train, score and monitor (and the retraining
the monitor starts, naming it as parent), FAIL from a failing run; every event is valid
against the specification's schema and standard facets; what they describe is what
`renkei lineage` says; a collector that is down leaves the flows green and says so once."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.config import load_project_set
from shared.ledger import Ledger
from shared.reports.openlineage import run_uuid
from tests.conftest import FAST_TRAINING, REPO, free_port, write_project
from tests.flows.helpers import INGEST, MONITOR, SCORE, TRAIN, run_flow
from tests.monitoring.helpers import release
from tests.openlineage_schema import event_errors

pytestmark = pytest.mark.slow


class Collector:
    """An OpenLineage HTTP endpoint on 127.0.0.1 (a free port) that records what it gets."""

    def __init__(self) -> None:
        events: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                events.append({"path": self.path, **json.loads(body)})
                self.send_response(201)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.events = events
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def of(self, pathspec: str, namespace: str) -> dict[str, dict]:
        """The events of run ``pathspec``, by event type (each type once)."""
        rid = run_uuid(namespace, pathspec)
        found: dict[str, dict] = {}
        for e in self.events:
            if e["run"]["runId"] == rid:
                assert e["eventType"] not in found, f"{e['eventType']} twice for {pathspec}"
                found[e["eventType"]] = e
        return found


def _by_version(datasets: list[dict]) -> dict[str, dict]:
    return {
        d["facets"]["version"]["datasetVersion"]: d for d in datasets if "version" in d["facets"]
    }


def _renkei_json(project: Path, *args: str) -> dict:
    p = subprocess.run(
        [sys.executable, "-m", "shared.cli", "--config", str(project), *args, "--json"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout[p.stdout.index("{") :])


def test_every_flow_run_sends_valid_openlineage_events_that_match_the_ledger(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path, **FAST_TRAINING, training__families=["baseline", "xgboost"])
    pset = load_project_set(project)
    cfg, ns = pset.project, pset.project.name
    ledger = Ledger.open(cfg.storage.ledger_url)
    collector = Collector()
    env = {"OPENLINEAGE_URL": collector.url}
    try:
        ingest, status, out, err = run_flow(INGEST, project, env=env, rows=6000)
        assert status == "successful", out + err
        train, status, out, err = run_flow(TRAIN, project, env=env)
        assert status == "successful", out + err
        [cand] = [m.version for m in ledger.registry.models() if m.status == "candidate"]
        t = type("T", (), {"ledger": ledger, "roles": pset.roles, "cfg": cfg, "rules": pset.rules})
        release(t, cand)
        score, status, out, err = run_flow(SCORE, project, env=env, rows=3000, drift=1.0)
        assert status == "successful", out + err
        monitor, status, out, err = run_flow(MONITOR, project, env=env, window=1)
        assert status == "successful", out + err
        failing, status, _, _ = run_flow(
            INGEST, project, env={**env, "RENKEI_INJECT_FAULT": "validate-bug"}, rows=300
        )
        assert status == "failed"
    finally:
        collector.stop()

    assert collector.events and all(e["path"] == "/api/v1/lineage" for e in collector.events)
    for e in collector.events:
        e.pop("path")
        assert event_errors(e) == [], (e["eventType"], e["job"]["name"], event_errors(e))
        assert e["job"]["namespace"] == ns

    # START then COMPLETE for each of the four flows, job name the flow
    runs = {"ingest": ingest, "train": train, "score": score, "monitor": monitor}
    ev = {k: collector.of(r.pathspec, ns) for k, r in runs.items()}
    for k, r in runs.items():
        assert set(ev[k]) == {"START", "COMPLETE"}, (k, set(ev[k]))
        assert ev[k]["START"]["job"]["name"] == r.pathspec.split("/")[0]
        assert ev[k]["START"]["eventTime"] <= ev[k]["COMPLETE"]["eventTime"]
    # FAIL for the failing run, with its reason
    fail = collector.of(failing.pathspec, ns)
    assert set(fail) == {"START", "FAIL"}
    assert "injected bug at validate" in fail["FAIL"]["run"]["facets"]["errorMessage"]["message"]

    # ingest: raw file -> dataset version (+ quarantine), checks with failures, row counts
    done = ev["ingest"]["COMPLETE"]
    [d] = [x for x in ledger.datasets.all() if x.flow_run == ingest.pathspec]
    [raw] = done["inputs"]
    assert raw["name"] == str(Path(d.raw_uri).resolve()) and raw["namespace"] == "file"
    assert raw["inputFacets"]["inputStatistics"]["rowCount"] == d.rows_in
    checks = raw["inputFacets"]["dataQualityAssertions"]["assertions"]
    summary = ledger.datasets.quarantine(d.version)
    failing_checks = {
        (c["column"], c["assertion"]): c["params"]["failures"] for c in checks if "column" in c
    }
    assert failing_checks == {(c.column, c.check): c.rows for c in summary.by_check}
    assert d.rows_quarantined > 0 and failing_checks
    schema = {f["name"] for f in raw["facets"]["schema"]["fields"]}
    assert set(cfg.features) <= schema
    out_ds = _by_version(done["outputs"])
    assert out_ds[d.version]["outputFacets"]["outputStatistics"]["rowCount"] == d.rows_valid
    quarantine = [o for o in done["outputs"] if "version" not in o["facets"]]
    assert quarantine[0]["outputFacets"]["outputStatistics"]["rowCount"] == d.rows_quarantined

    # train: dataset versions -> model versions; equal to `renkei lineage` of the candidate
    done = ev["train"]["COMPLETE"]
    lin = _renkei_json(project, "lineage", cand)
    models = _by_version(done["outputs"])
    assert set(models) == {
        m.version for m in ledger.registry.models() if m.flow_run == train.pathspec
    }
    assert models[cand]["name"] == str(Path(lin["artifact_uri"]).resolve())
    assert models[cand]["facets"]["datasetType"]["datasetType"] == "MODEL"
    assert lin["flow_run"] == train.pathspec
    assert (
        set(_by_version(done["inputs"])) == {x["version"] for x in lin["datasets"]} == {d.version}
    )
    for x in lin["datasets"]:  # the dataset version's own ingest run made it from the raw file
        assert x["ingest_run"] == ingest.pathspec and x["raw_uri"] == d.raw_uri

    # score: raw input and the production model version -> scoring output
    done = ev["score"]["COMPLETE"]
    [batch] = [b for b in ledger.operations.scoring_batches() if b.flow_run == score.pathspec]
    row = _renkei_json(project, "lineage", "--batch", str(batch.id), "--row", "0")
    assert row["version"] == cand and row["scoring_run"] == score.pathspec
    assert set(_by_version(done["inputs"])) == {cand}
    names = {x["name"] for x in done["inputs"]}
    assert str(Path(batch.input_uri).resolve()) in names
    assert Path(row["raw_file"]).resolve().is_relative_to(Path(batch.input_uri).resolve())
    [output] = done["outputs"]
    assert output["name"] == str(Path(batch.output_uri).resolve())
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == batch.rows

    # monitor: the scoring output it watched and the model; its retraining names it as parent
    done = ev["monitor"]["COMPLETE"]
    assert set(_by_version(done["inputs"])) == {cand}
    assert str(Path(batch.output_uri).resolve()) in {x["name"] for x in done["inputs"]}
    [report] = ledger.monitoring.reports()
    assert report.retrain and report.retrain_run and report.retrain_run.startswith("TrainFlow/")
    child = collector.of(report.retrain_run, ns)
    assert set(child) == {"START", "COMPLETE"}
    for e in child.values():
        parent = e["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == run_uuid(ns, monitor.pathspec)
        assert parent["job"] == {"namespace": ns, "name": "MonitorFlow"}
    assert all("parent" not in e["run"]["facets"] for e in ev["train"].values())


def test_a_collector_that_is_down_leaves_the_flow_green_and_says_so_once(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path)
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run, status, out, err = run_flow(INGEST, project, env={"OPENLINEAGE_URL": down}, rows=300)
    assert status == "successful", out + err
    [record] = Ledger.open(load_project_set(project).project.storage.ledger_url).runs.all()
    assert record.status == "succeeded" and record.pathspec == run.pathspec
    said = [line for line in (out + err).splitlines() if "lineage events:" in line]
    # once per step that sends (start: START; end: COMPLETE), never once per retry or event
    assert 1 <= len(said) <= 2, said
    assert all("not delivered" in line and "the run goes on" in line for line in said), said
    assert "Traceback" not in out + err
