"""Run-time settings that may come from the environment. The one place env vars are read.

Flows and the CLI call these at their edges and pass plain values into the library.
"""

from __future__ import annotations

import getpass
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import ProjectConfig
from shared.config.errors import RenkeiError

LEDGER_URL_ENV = "RENKEI_LEDGER_URL"


def ledger_url(cfg: ProjectConfig, environ: Mapping[str, str] | None = None) -> str:
    """``RENKEI_LEDGER_URL`` when set, else ``storage.ledger_url`` from the project config.

    ``secretsmanager:NAME`` reads the URL from that AWS Secrets Manager secret (production).
    """
    env = os.environ if environ is None else environ
    url = env.get(LEDGER_URL_ENV) or cfg.storage.ledger_url
    if url.startswith(SECRET_PREFIX):
        return secret_string(url.split(":", 1)[1])
    return url


SECRET_PREFIX = "secretsmanager:"


def secret_string(name: str) -> str:
    """The string an AWS Secrets Manager secret holds (boto3's errors as they come)."""
    import boto3

    return boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]


class SecretError(RenkeiError, RuntimeError):
    """A setting's secret is missing or cannot be read; the message is one line."""


def study_storage(cfg: ProjectConfig) -> str:
    """``training.search.storage`` as the studies' URL: ``auto`` and URLs as written;
    ``secretsmanager:NAME`` reads the URL from that AWS Secrets Manager secret (production:
    the studies' own PostgreSQL database, its password out of project.yaml)."""
    value = cfg.training.search.storage
    if not value.startswith(SECRET_PREFIX):
        return value
    name = value.split(":", 1)[1]
    try:
        url = secret_string(name)
    except Exception as e:  # noqa: BLE001  (missing, denied, unreachable: one line)
        why = " ".join(str(e).split()) or type(e).__name__
        raise SecretError(
            f"training.search.storage {value}: cannot read that secret ({why}): create it "
            "holding the studies' database URL, or grant this role secretsmanager:GetSecretValue"
        ) from None
    if "://" not in (url or ""):
        raise SecretError(
            f"training.search.storage {value}: that secret does not hold a SQLAlchemy URL "
            "(e.g. postgresql+psycopg://user:password@host:5432/studies)"
        )
    return url.strip()


def machine_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's share; else
    ``os.cpu_count()``; at least 1): what ``storage.partition_rows: auto`` sizes for."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def current_user(environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: METAFLOW_USER, USER, or the login name."""
    env = os.environ if environ is None else environ
    for key in ("METAFLOW_USER", "USER", "USERNAME"):
        if env.get(key):
            return env[key]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class BatchTask:
    """A task running on AWS Batch: its job id (AWS_BATCH_JOB_ID, set by Batch) and, deployed
    on Step Functions, the state machine and the execution's name that Metaflow's state
    machine passes every task (SFN_STATE_MACHINE, METAFLOW_RUN_ID)."""

    job_id: str
    state_machine: str | None
    execution_name: str | None


def batch_task(environ: Mapping[str, str] | None = None) -> BatchTask | None:
    """This process's AWS Batch task, or None when it runs anywhere else (a laptop)."""
    env = os.environ if environ is None else environ
    if not env.get("AWS_BATCH_JOB_ID"):
        return None
    return BatchTask(
        env["AWS_BATCH_JOB_ID"],
        env.get("SFN_STATE_MACHINE") or None,
        env.get("METAFLOW_RUN_ID") or None,
    )


FAULT_ENV = "RENKEI_INJECT_FAULT"


def injected_fault(environ: Mapping[str, str] | None = None) -> str | None:
    """A step name at which a flow should fail on purpose (reliability tests of resume)."""
    env = os.environ if environ is None else environ
    return env.get(FAULT_ENV) or None


def fault_point(point: str) -> None:
    """Reliability tests only (RENKEI_INJECT_FAULT=<point>-kill|-term|-bug): die here by
    SIGKILL, be stopped by SIGTERM, or raise an unexpected (non-Renkei) error."""
    fault = injected_fault()
    if fault == f"{point}-kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif fault == f"{point}-term":
        os.kill(os.getpid(), signal.SIGTERM)
    elif fault == f"{point}-bug":
        raise RuntimeError(f"injected bug at {point} (RENKEI_INJECT_FAULT)")


PROJECT_ENV = "RENKEI_PROJECT"


def app_project_path(environ: Mapping[str, str] | None = None) -> str:
    """The project folder the app reads: RENKEI_PROJECT (set by `renkei app --project DIR`)
    or config/project.yaml."""
    from shared.config import DEFAULT_PROJECT_PATH

    env = os.environ if environ is None else environ
    return env.get(PROJECT_ENV) or DEFAULT_PROJECT_PATH


def app_environment(project_path: str, ledger: str | None) -> dict[str, str]:
    """What `renkei app` passes to the Streamlit process: the project folder (and ledger)."""
    env = {PROJECT_ENV: str(project_path)}
    if ledger:
        env[LEDGER_URL_ENV] = ledger
    return env


LINEAGE_PARENT_ENV = "RENKEI_LINEAGE_PARENT"


def lineage_configured(environ: Mapping[str, str] | None = None, cwd: str | None = None) -> bool:
    """Whether OpenLineage events are to be sent: configured the client's standard ways
    (``OPENLINEAGE_URL``, ``OPENLINEAGE__TRANSPORT__*``, ``OPENLINEAGE_CONFIG``, or an
    ``openlineage.yml`` in the working directory or ``~/.openlineage/``) and not
    ``OPENLINEAGE_DISABLED=true``. Off otherwise: the client is then never imported."""
    env = os.environ if environ is None else environ
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") and v for k, v in env.items()):
        return True
    here = os.path.join(cwd or os.getcwd(), "openlineage.yml")
    home = os.path.join(os.path.expanduser("~"), ".openlineage", "openlineage.yml")
    return os.path.isfile(here) or os.path.isfile(home)


def lineage_parent(environ: Mapping[str, str] | None = None) -> str | None:
    """The pathspec of the run that started this one (the monitor's, for a retraining), set
    in the child's environment by :func:`lineage_parent_environment`."""
    env = os.environ if environ is None else environ
    return env.get(LINEAGE_PARENT_ENV) or None


def lineage_parent_environment(parent_pathspec: str) -> dict[str, str]:
    """What a run started by run ``parent_pathspec`` needs in its environment for its
    lineage events to name that run as their parent."""
    return {LINEAGE_PARENT_ENV: parent_pathspec}


def lineage_environment(openlineage: Mapping[str, object]) -> dict[str, str]:
    """The environment a deployed task needs to send OpenLineage events, from aws.yaml's
    ``openlineage`` settings (``url``, ``endpoint``); empty when no url is set."""
    url = openlineage.get("url")
    if not url:
        return {}
    return {
        "OPENLINEAGE_URL": str(url),
        "OPENLINEAGE_ENDPOINT": str(openlineage.get("endpoint") or "api/v1/lineage"),
    }
