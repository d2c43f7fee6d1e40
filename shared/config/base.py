"""What every config file shares: default paths, ConfigError, the strict model base and YAML reading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from shared.config.errors import RenkeiError

DEFAULT_PROJECT_PATH = "config/project.yaml"
DEFAULT_ROLES_PATH = "config/roles.yaml"
DEFAULT_RULES_PATH = "config/rules.yaml"
DEFAULT_COSTS_PATH = "config/costs.yaml"
DEFAULT_AWS_PATH = "config/aws.yaml"


class ConfigError(RenkeiError, ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _format_validation_error(source: str, err: ValidationError) -> str:
    problems = []
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        problems.append(f"field '{field}': {msg}")
    return f"{source}: " + "; ".join(problems)


def _parse(text: str, model: type[BaseModel], source: str) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(source, e)) from None


def _load(path: str | Path, model: type[BaseModel]) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file: {e}") from None
    return _parse(text, model, str(p))
