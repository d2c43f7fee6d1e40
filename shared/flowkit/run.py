"""A flow run's bookkeeping: begin_run, the failing-run context manager run_context, end_run,
fault points; each also sends the run's OpenLineage event when that is configured
(shared.flowkit.openlineage)."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from shared.config.flow_error import RenkeiFlowError
from shared.config.settings import fault_point  # noqa: F401 (flows import it from here)
from shared.flowkit.openlineage import emit_run_event


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


def flow_release_keys(project: Any) -> Any:
    """The release keys a step verifies bundles with: roles.yaml's, frozen in the package
    (dev mode: the key folder's own key), resolved in the step, never kept as an artifact."""
    from shared.config import set_from_flow
    from shared.trust.release_key import release_keys

    pset = set_from_flow(project)
    return release_keys(pset.roles.identity, pset.project.storage.data_root)


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
    from shared.config.errors import expected_errors, one_line
    from shared.trust.task_identity import task_identity

    try:
        cfg = project_from_flow(project)
        ledger = open_ledger(project)
        branch = getattr(current, "branch_name", None)
        aws = task_identity()  # deployed: the job role's STS ARN and the execution's ARN
        user, details = (aws.caller, aws.details()) if aws else (current.username, {})
        pathspec = ledger.runs.start(current.flow_name, current.run_id, user, branch, **details)
    except expected_errors() as e:
        raise RenkeiFlowError(one_line(e)) from None
    emit_run_event(project, ledger, pathspec, "START")
    return RunStart(cfg, ledger, pathspec)


def actor() -> str:
    """Who the entries a step records name: deployed (on AWS Batch), the task's AWS identity
    (the STS caller ARN of its job role, shared.trust.task_identity), never a name from the
    environment; run locally, Metaflow's user."""
    from metaflow import current

    from shared.config.errors import expected_errors, one_line
    from shared.trust.task_identity import task_actor

    try:
        return task_actor(current.username)
    except expected_errors() as e:
        raise RenkeiFlowError(one_line(e)) from None


@contextmanager
def run_context(project: Any, run_pathspec: str) -> Iterator[None]:
    """Wrap every step's body: whatever ends it (a Renkei, database, storage or bundle error,
    a bug, SIGTERM), the run is recorded ``failed`` in the ledger with a one-line reason.

    Renkei, database, storage and bundle errors end the step with that one line (Metaflow
    prints its own exceptions without a traceback); anything else keeps its traceback.
    Temporary files are the writers' own: ``storage.write_bytes`` removes its on failure.
    """
    from shared.config.errors import expected_errors, one_line

    def stop(signum: int, _frame: Any) -> None:
        raise RunKilled(f"stopped by signal {signal.Signals(signum).name}")

    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main else None
    try:
        yield
    except BaseException as e:
        reason = e.message if isinstance(e, RenkeiFlowError) else one_line(e)
        ledger = None
        try:
            ledger = open_ledger(project)
            ledger.runs.finish(run_pathspec, "failed", error=reason)
        except Exception as again:  # the ledger itself may be what failed
            print(f"could not record the failure in the ledger: {one_line(again)}", file=sys.stderr)
        emit_run_event(project, ledger, run_pathspec, "FAIL", error=reason)
        if isinstance(e, expected_errors()):
            raise RenkeiFlowError(reason) from None
        raise
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def end_run(project: Any, run_pathspec: str, **details: Any) -> Any:
    """A flow's end step: record the run ``succeeded`` (with ``details``, e.g. the dataset
    version) inside :func:`run_context`, then send its COMPLETE event; returns the ledger."""
    with run_context(project, run_pathspec):
        ledger = open_ledger(project)
        ledger.runs.finish(run_pathspec, "succeeded", **details)
    emit_run_event(project, ledger, run_pathspec, "COMPLETE")
    return ledger


def share_cpus(deploy: Any, parallel: int) -> int:
    """Threads each of ``parallel`` sibling tasks may use. Run locally, a foreach's tasks run
    side by side on one machine: each gets an equal share of its cores (``OMP_NUM_THREADS``,
    read when XGBoost or PyTorch loads), so that their thread pools do not fight over the
    cores (XGBoost with every core beside a busy PyTorch fit ran 15x slower). Deployed, each
    task has its own machine; a user's ``OMP_NUM_THREADS`` is kept."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if (deploy or {}).get("target") == "aws":
        return cores or 1
    if "OMP_NUM_THREADS" not in os.environ:
        os.environ["OMP_NUM_THREADS"] = str(max(1, (cores or 1) // max(1, parallel)))
    return int(os.environ["OMP_NUM_THREADS"])


def peak_rss_mib() -> float:
    """This task's peak resident memory so far, MiB (a step stores it: the scale benchmark
    reads the largest task's). Linux's VmHWM, reset at exec: ``ru_maxrss`` would carry over
    the resident size of the process that started the task (Metaflow's runtime)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:  # not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
