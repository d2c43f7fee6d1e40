"""Small helpers the flows share: clean failures and card content. Imports Metaflow."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from metaflow.exception import MetaflowException


def project_config() -> Any:
    """The ``project`` Config every flow declares: a project.yaml (default config/) and the
    rules, roles and costs files it names, validated at once and frozen into one value."""
    from metaflow import Config

    from shared.config import DEFAULT_PROJECT_PATH

    return Config(
        "project",
        default=DEFAULT_PROJECT_PATH,
        parser="shared.config.parse_project",
        help="The project's project.yaml (default config/project.yaml); the rules, roles "
        "and costs files it names (files:, default beside it) are read and frozen with it.",
    )


def aws_config() -> Any:
    """The ``aws`` Config: production settings (config/aws.yaml); used only when deployed."""
    from metaflow import Config

    from shared.config import DEFAULT_AWS_PATH

    return Config(
        "aws",
        default=DEFAULT_AWS_PATH,
        parser="shared.config.parse_aws",
        help="Production (AWS) settings YAML (default config/aws.yaml).",
    )


def deploy_config() -> Any:
    """The ``deploy`` Config: where the flow runs; `renkei deploy aws` freezes target=aws."""
    from metaflow import Config

    return Config("deploy", default_value='{"target": "local"}', help="Deployment target.")


def _production_mutator() -> Any:
    from metaflow import FlowMutator
    from metaflow.user_decorators.mutable_step import MutableStep

    class production(FlowMutator):  # noqa: N801 (used as a decorator)
        """When deployed to AWS: @schedule from config/aws.yaml and, on every step, @batch,
        @resources, @retry and @timeout. A step whose own @resources asks for a GPU is a GPU
        step (GPU queue and image, `batch.gpu_step` resources); every other step is a CPU
        step (CPU queue and image, `batch.cpu_step`)."""

        def pre_mutate(self, mutable_flow: Any) -> None:
            configs = dict(mutable_flow.configs)
            deploy = configs.get("deploy") or {}
            if deploy.get("target") != "aws":
                return
            aws = configs["aws"]
            cron = aws["schedules"].get(deploy.get("flow", ""))
            if cron:
                mutable_flow.add_decorator("schedule", deco_kwargs={"cron": cron})
            batch = aws["batch"]
            for _, step in mutable_flow.steps:
                gpu = any(
                    int(kwargs.get("gpu") or 0)
                    for name, _fq, _args, kwargs in step.decorator_specs
                    if name == "resources"
                )
                kind = "gpu" if gpu else "cpu"
                res = batch[f"{kind}_step"]
                step.add_decorator(
                    "resources",
                    deco_kwargs={
                        "cpu": res["cpu"],
                        "memory": res["memory"],
                        **({"gpu": res["gpus"]} if gpu else {}),
                    },
                    duplicates=MutableStep.OVERRIDE,
                )
                step.add_decorator(
                    "batch",
                    deco_kwargs={
                        "queue": batch[f"{kind}_queue"],
                        "image": batch["gpu_image" if gpu else "image"],
                        "iam_role": aws["iam"]["batch_job_role"],
                    },
                )
                step.add_decorator(
                    "retry",
                    deco_kwargs={
                        "times": aws["retry"]["times"],
                        "minutes_between_retries": aws["retry"]["minutes_between"],
                    },
                )
                step.add_decorator("timeout", deco_kwargs={"minutes": aws["timeout_minutes"]})

    return production


production = _production_mutator()


class RenkeiFlowError(MetaflowException):
    """Ends a step with one clear message and no traceback."""

    headline = "Renkei"


class RunKilled(BaseException):  # noqa: N818 (a signal, not an error of the code)
    """The step's process was told to stop (SIGTERM, SIGINT)."""


def open_ledger(project: Any) -> Any:
    """The ledger named by the frozen project config, its URL resolved here, in this step
    (Secrets Manager or RENKEI_LEDGER_URL): never kept as an artifact, so no password ever
    lands in the datastore."""
    from shared.config import set_from_flow
    from shared.config.settings import ledger_url
    from shared.trust.anchors import open_anchored

    pset = set_from_flow(project)
    cfg = pset.project
    return open_anchored(ledger_url(cfg), pset.roles.identity, cfg.storage.data_root)


@dataclass(frozen=True)
class RunStart:
    """What a flow's start step gets: the typed config, the ledger and the run's record."""

    cfg: Any
    ledger: Any
    run_pathspec: str


def begin_run(project: Any) -> RunStart:
    """Parse the frozen project config, open the ledger and record the run as started.

    A missing, read-only or unreachable ledger ends the step in one line (there is no run
    record to mark failed then).
    """
    from metaflow import current

    from shared.config import project_from_flow
    from shared.errors import expected_errors, one_line

    try:
        cfg = project_from_flow(project)
        ledger = open_ledger(project)
        branch = getattr(current, "branch_name", None)
        pathspec = ledger.start_run(current.flow_name, current.run_id, current.username, branch)
    except expected_errors() as e:
        raise RenkeiFlowError(one_line(e)) from None
    return RunStart(cfg, ledger, pathspec)


@contextmanager
def run_context(project: Any, run_pathspec: str) -> Iterator[None]:
    """Wrap every step's body: whatever ends it (a Renkei, database, storage or bundle error,
    a bug, SIGTERM), the run is recorded ``failed`` in the ledger with a one-line reason.

    Renkei, database, storage and bundle errors end the step with that one line (Metaflow
    prints its own exceptions without a traceback); anything else keeps its traceback.
    Temporary files are the writers' own: ``storage.write_bytes`` removes its on failure.
    """
    from shared.errors import expected_errors, one_line

    def stop(signum: int, _frame: Any) -> None:
        raise RunKilled(f"stopped by signal {signal.Signals(signum).name}")

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    except BaseException as e:
        reason = e.message if isinstance(e, RenkeiFlowError) else one_line(e)
        try:
            open_ledger(project).finish_run(run_pathspec, "failed", error=reason)
        except Exception as again:  # the ledger itself may be what failed
            print(f"could not record the failure in the ledger: {one_line(again)}", file=sys.stderr)
        if isinstance(e, expected_errors()):
            raise RenkeiFlowError(reason) from None
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def fault_point(point: str) -> None:
    """Reliability tests only (RENKEI_INJECT_FAULT=<point>-kill|-term|-bug): die here by
    SIGKILL, be stopped by SIGTERM, or raise an unexpected (non-Renkei) error."""
    import os

    from shared.config.settings import injected_fault

    fault = injected_fault()
    if fault == f"{point}-kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == f"{point}-term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif fault == f"{point}-bug":
        raise RuntimeError(f"injected bug at {point} (RENKEI_INJECT_FAULT)")


def ingest_card(outcome: Any) -> list[Any]:
    """Card components summarising one ingest: counts, verdict and reasons by check."""
    from metaflow.cards import Markdown, Table

    verdict = "passed" if outcome.passed else "FAILED"
    parts: list[Any] = [
        Markdown(f"# Ingest `{outcome.dataset_version}`: validation {verdict}"),
        Markdown(
            f"**Source** `{outcome.raw.source}` (sha256 `{outcome.raw.sha256[:12]}`, "
            f"{outcome.raw.size:,} bytes, kept at `{outcome.raw.uri}`)"
        ),
        Table(
            [
                ["rows in", f"{outcome.rows_in:,}"],
                ["valid", f"{outcome.rows_valid:,}"],
                ["quarantined", f"{outcome.rows_quarantined:,}"],
                ["valid fraction", f"{outcome.valid_fraction:.2%}"],
                ["minimum valid fraction", f"{outcome.min_valid_fraction:.2%}"],
            ],
            headers=["", "value"],
        ),
        Markdown("## Quarantine reasons by check"),
    ]
    if outcome.check_counts:
        parts.append(
            Table(
                [[c.column, c.check, f"{c.rows:,}"] for c in outcome.check_counts],
                headers=["column", "check", "rows"],
            )
        )
    else:
        parts.append(Markdown("No row was quarantined."))
    return parts


def training_card(candidates: list[Any], comparison: Any, cfg: Any) -> list[Any]:
    """Card components for a training run: metric chart by family and slice, gate table."""
    from metaflow.cards import Markdown, Table, VegaChart

    m = cfg.training.key_metric
    parts: list[Any] = [Markdown(f"# Training: {m} on the holdout, by family and slice")]
    parts.append(
        VegaChart(
            {
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "data": {"values": comparison.to_dict(orient="records")},
                "mark": "bar",
                "encoding": {
                    "x": {"field": "family", "type": "nominal", "title": None},
                    "y": {"field": "value", "type": "quantitative", "title": m},
                    "color": {"field": "family", "type": "nominal"},
                    "column": {"field": "slice", "type": "nominal", "title": "slice"},
                },
                "width": 60,
            }
        )
    )
    parts.append(Markdown("## Gates"))
    rows = []
    for c in candidates:
        for g in c.gates:
            rows.append([c.family, g.name, "pass" if g.passed else "FAIL", g.detail])
    parts.append(
        Table(rows or [["-", "-", "-", "no gates"]], headers=["family", "gate", "result", "detail"])
    )
    parts.append(
        Table(
            [[c.family, c.status, *(f"{v:.4g}" for v in c.metrics.values())] for c in candidates],
            headers=["family", "status", *candidates[0].metrics.keys()],
        )
    )
    return parts


def monitoring_card(result: Any, report: Any) -> list[Any]:
    """Card components for a monitoring run: each check, its value, threshold and verdict."""
    from metaflow.cards import Markdown, Table

    head = "RETRAIN" if report.retrain else "no retraining needed"
    parts: list[Any] = [
        Markdown(f"# Monitoring {result.version}: {head}"),
        Markdown(
            f"Batches {result.batches}, {result.rows:,} rows, label coverage "
            f"{result.label_coverage:.0%}"
        ),
        Table(
            [
                [
                    c.name,
                    c.verdict,
                    "-" if c.value is None else f"{c.value:.3f}",
                    f"{c.threshold:g}",
                    c.detail,
                ]
                for c in result.checks
            ],
            headers=["check", "verdict", "value", "threshold", "detail"],
        ),
    ]
    if report.reasons:
        parts.append(Markdown("**Why retrain:** " + "; ".join(report.reasons)))
    return parts
