"""Run-time settings that may come from the environment. The one place env vars are read.

Flows and the CLI call these at their edges and pass plain values into the library.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config import ProjectConfig

LEDGER_URL_ENV = "RENKEI_LEDGER_URL"


def ledger_url(cfg: ProjectConfig, environ: Mapping[str, str] | None = None) -> str:
    """``RENKEI_LEDGER_URL`` when set, else ``storage.ledger_url`` from the project config.

    ``secretsmanager:NAME`` reads the URL from that AWS Secrets Manager secret (production).
    """
    env = os.environ if environ is None else environ
    url = env.get(LEDGER_URL_ENV) or cfg.storage.ledger_url
    if url.startswith("secretsmanager:"):
        import boto3

        name = url.split(":", 1)[1]
        return boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
    return url


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


FAULT_ENV = "RENKEI_INJECT_FAULT"


def injected_fault(environ: Mapping[str, str] | None = None) -> str | None:
    """A step name at which a flow should fail on purpose (reliability tests of resume)."""
    env = os.environ if environ is None else environ
    return env.get(FAULT_ENV) or None


@dataclass(frozen=True)
class AppPaths:
    project: str
    roles: str
    rules: str


def app_paths(environ: Mapping[str, str] | None = None) -> AppPaths:
    """Config files the app reads: RENKEI_CONFIG, RENKEI_ROLES, RENKEI_RULES or defaults."""
    from shared.config import DEFAULT_PROJECT_PATH, DEFAULT_ROLES_PATH, DEFAULT_RULES_PATH

    env = os.environ if environ is None else environ
    return AppPaths(
        env.get("RENKEI_CONFIG") or DEFAULT_PROJECT_PATH,
        env.get("RENKEI_ROLES") or DEFAULT_ROLES_PATH,
        env.get("RENKEI_RULES") or DEFAULT_RULES_PATH,
    )


def costs_path(environ: Mapping[str, str] | None = None) -> str:
    """The costs YAML the app reads: RENKEI_COSTS or config/costs.yaml."""
    env = os.environ if environ is None else environ
    return env.get("RENKEI_COSTS") or "config/costs.yaml"
