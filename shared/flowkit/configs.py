"""The Metaflow Config declarations every flow makes: project, aws, deploy."""

from __future__ import annotations

from typing import Any


def project_config() -> Any:
    """The ``project`` Config every flow declares: a project.yaml (default config/) and the
    rules, roles and costs files it names, validated at once and frozen into one value."""
    from metaflow import Config

    from shared.config import DEFAULT_PROJECT_PATH

    return Config(
        "project",
        default=DEFAULT_PROJECT_PATH,
        parser="shared.config.parse_project",
        help=f"The project's project.yaml (default {DEFAULT_PROJECT_PATH}); the rules, roles "
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
        help=f"Production (AWS) settings YAML (default {DEFAULT_AWS_PATH}).",
    )


def deploy_config() -> Any:
    """The ``deploy`` Config: where the flow runs; `renkei deploy aws` freezes target=aws."""
    from metaflow import Config

    return Config("deploy", default_value='{"target": "local"}', help="Deployment target.")
