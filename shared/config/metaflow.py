"""Metaflow Config parsers for project.yaml and aws.yaml (they guess the file from sys.argv)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from .aws import AwsConfig
from .base import DEFAULT_AWS_PATH, DEFAULT_PROJECT_PATH, ConfigError, _parse
from .project import ProjectConfig
from .project_set import project_set_from_text


def _flow_parser(fn: Callable[[str], dict[str, Any]]) -> Callable[[str], dict[str, Any]]:
    """A Metaflow ``Config`` parser whose ConfigError ends the command in one line.

    Metaflow prints its own exceptions as a message and anything else as an "Internal
    error" traceback, so the error is raised as the flows' RenkeiFlowError.
    """

    @functools.wraps(fn)
    def parse(text: str) -> dict[str, Any]:
        try:
            return fn(text)
        except ConfigError as e:
            from shared.config.flow_error import RenkeiFlowError

            raise RenkeiFlowError(str(e)) from None

    return parse


@_flow_parser
def parse_aws(text: str) -> dict[str, Any]:
    """Metaflow ``Config`` parser for config/aws.yaml."""
    source = _cli_config_source("aws", DEFAULT_AWS_PATH)
    return _parse(text, AwsConfig, source).model_dump(mode="json")


def _cli_config_source(name: str, default: str) -> str:
    """Best guess of the file a Metaflow ``--config NAME PATH`` option pointed at."""
    argv = sys.argv
    for i, arg in enumerate(argv[:-2]):
        if arg == "--config" and argv[i + 1] == name:
            return argv[i + 2]
    return default


@_flow_parser
def parse_project(text: str) -> dict[str, Any]:
    """Metaflow ``Config`` parser: validates project.yaml and reads the rules, roles and
    costs files it names (beside it), freezing the whole set into one value under
    ``included``; a deployed or retraining flow then needs no other file at run time.
    A value that already holds ``included`` (frozen earlier) is taken as it is."""
    source = _cli_config_source("project", "")
    if not source:
        default = Path(DEFAULT_PROJECT_PATH)
        data = yaml.safe_load(text) if text.strip() else None
        frozen = isinstance(data, dict) and "included" in data
        if not frozen and not (default.is_file() and default.read_text("utf-8") == text):
            # parsed outside the flow's own command line (Metaflow's Runner computing
            # parameters in the caller's process): where the file lies is unknown here, so
            # only project.yaml itself is checked; the flow's process, which has the path on
            # its command line, reads and freezes the files it names.
            cfg = _parse(text, ProjectConfig, "project.yaml")
            return {**cfg.model_dump(mode="json"), "included": None}
        source = DEFAULT_PROJECT_PATH
    return project_set_from_text(text, source).frozen()
