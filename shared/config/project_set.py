"""One project folder loaded whole: project.yaml and the files it names, as a ProjectSet."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .base import DEFAULT_PROJECT_PATH, DEFAULT_ROLES_PATH, ConfigError, _load, _parse
from .costs import CostsConfig, check_costs
from .project import ProjectConfig, ProjectFiles, project_file
from .roles import RolesConfig
from .rules import InputRule, RulesConfig, check_rules

# the checkout's demo team (config/roles.yaml): who acts, in dev mode, where a project has
# no roles file
DEMO_ROLES = Path(__file__).resolve().parents[2] / DEFAULT_ROLES_PATH

# what a project without the file gets, and what that means (ProjectSet.defaults)
DEFAULT_MEANING = {
    "rules": "no rules file: the data contract and the training envelope only",
    "roles": "no roles file: the demo team, in dev mode (refused by `renkei deploy aws`)",
    "costs": "no costs file: none configured",
}


def default_rules() -> RulesConfig:
    """The guard of a project without rules: the contract, and the training envelope
    (a row outside it falls back to the baseline)."""
    return RulesConfig(
        input=[InputRule(name="within_training_envelope", kind="envelope", action="fallback")]
    )


@dataclass(frozen=True)
class ProjectSet:
    """One project folder: project.yaml and the rules, roles and costs files it names."""

    project: ProjectConfig
    rules: RulesConfig
    roles: RolesConfig
    costs: CostsConfig
    sources: dict[str, str]  # "project" | "rules" | "roles" | "costs" -> the file read
    aws_path: str  # config/aws.yaml or the project's files.aws (read only to deploy)
    # "rules" | "roles" | "costs" the folder has no file for: their defaults stand in
    # (DEFAULT_MEANING says what each means)
    defaults: tuple[str, ...] = ()

    def frozen(self) -> dict[str, Any]:
        """Plain data for a Metaflow ``Config``: project fields plus ``included``."""
        return {
            **self.project.model_dump(mode="json"),
            "included": {
                "rules": self.rules.model_dump(mode="json"),
                "roles": self.roles.model_dump(mode="json"),
                "costs": self.costs.model_dump(mode="json"),
                "sources": dict(self.sources),
                "aws_path": self.aws_path,
                "defaults": list(self.defaults),
            },
        }

    @classmethod
    def from_frozen(cls, data: dict[str, Any]) -> ProjectSet:
        data = dict(data)
        inc = data.pop("included")
        return cls(
            ProjectConfig.model_validate(data),
            RulesConfig.model_validate(inc["rules"]),
            RolesConfig.model_validate(inc["roles"]),
            CostsConfig.model_validate(inc["costs"]),
            dict(inc["sources"]),
            inc["aws_path"],
            tuple(inc.get("defaults", ())),
        )


def project_set_from_text(text: str, source: str) -> ProjectSet:
    """Validate project.yaml's text (read from ``source``) and load the files it names,
    relative to its folder; text already frozen (with ``included``) is taken as it is."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source}: not valid YAML: {e}") from None
    if isinstance(data, dict) and "included" in data:
        try:
            return ProjectSet.from_frozen(data)
        except (ValidationError, KeyError, TypeError) as e:
            raise ConfigError(f"{source}: not a valid frozen project set: {e}") from None
    project: ProjectConfig = _parse(text, ProjectConfig, source)
    folder = Path(source).parent
    files = project.files
    paths = {k: str(folder / getattr(files, k)) for k in ("rules", "roles", "costs")}
    defaults = tuple(k for k in paths if _absent(paths[k], k, files))
    if "costs" in defaults:
        costs = CostsConfig()
    else:
        costs = _load(paths["costs"], CostsConfig)
        check_costs(costs, project, paths["costs"])
    if "rules" in defaults:
        rules = default_rules()
    else:
        rules = _load(paths["rules"], RulesConfig)
        check_rules(rules, project, paths["rules"])
    roles = _load(DEMO_ROLES if "roles" in defaults else paths["roles"], RolesConfig)
    for k in defaults:
        paths[k] = f"(default) {DEFAULT_MEANING[k]}"
    return ProjectSet(
        project,
        rules,
        roles,
        costs,
        {"project": source, **paths},
        str(folder / files.aws),
        defaults,
    )


def _absent(path: str, kind: str, files: ProjectFiles) -> bool:
    """Whether the project has no ``kind`` file, so its default stands in: a file under
    its usual name (rules.yaml, roles.yaml, costs.yaml) may be left out; one named
    otherwise in ``files:`` must be there (else the load says it is not found)."""
    usual = getattr(ProjectFiles(), kind)
    return getattr(files, kind) == usual and not Path(path).exists()


def load_project_set(path: str | Path = DEFAULT_PROJECT_PATH) -> ProjectSet:
    """Read a project folder (or its project.yaml) and every file it names, validated."""
    p = project_file(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{p}: config file not found (a project folder holds project.yaml)"
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read config file: {e}") from None
    return project_set_from_text(text, str(p))


def project_from_flow(value: Any) -> ProjectConfig:
    """Turn a Metaflow ``ConfigValue`` (already validated at parse time) into the model."""
    return set_from_flow(value).project


def set_from_flow(value: Any) -> ProjectSet:
    """The whole project set frozen into the flow's ``project`` Config."""
    data = value.to_dict() if hasattr(value, "to_dict") else dict(value)
    return ProjectSet.from_frozen(data)
