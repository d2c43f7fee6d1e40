"""Typed, validated project settings: one project folder (default config/) holding
project.yaml and the rules, roles, costs and aws files it names (``files:``).

One module per file's schema (``project``, ``rules``, ``roles``, ``costs``, ``aws``),
``project_set`` loads the folder, ``metaflow`` holds the flows' Config parsers,
``settings`` the environment variables. Flows read the folder through one Metaflow
``Config`` with :func:`parse_project` as parser, which freezes the whole set into the run;
the CLI, the app and tests call :func:`load_project_set` (or :func:`load_project` and
friends for one file). Any problem raises :class:`ConfigError` naming file, field and problem.

Layer: bottom (beside shared.paths). Imports nothing from shared outside itself; holds
RenkeiError (errors), the base of every layer's errors.
"""

from .base import (
    DEFAULT_AWS_PATH,
    DEFAULT_COSTS_PATH,
    DEFAULT_PROJECT_PATH,
    DEFAULT_ROLES_PATH,
    DEFAULT_RULES_PATH,
    ConfigError,
)
from .exports import lazy_exports
from .project import (
    HIGHER_IS_BETTER,
    REGRESSION_METRICS,
    BaselineSettings,
    FeatureSpec,
    GateSettings,
    GeneratorSettings,
    IntervalSettings,
    MemorySettings,
    MonitoringSettings,
    ProjectConfig,
    ProjectFiles,
    RangeSpec,
    SplitSettings,
    TorchMLPSettings,
    TrainingSettings,
    ValidationSettings,
    XGBoostSettings,
    load_project,
    project_file,
)
from .roles import (
    LIFECYCLE_STAGES,
    ML_LENS_ROLES,
    PHASES,
    ApprovalPolicy,
    RaciEntry,
    RolesConfig,
    load_roles,
)
from .rules import GuardLimits, InputRule, OutputRule, RulesConfig, check_rules, load_rules
from .running import (
    FIXED_PARTITION_ROWS,
    CaptureSettings,
    PartitionRows,
    ServiceSettings,
    StorageSettings,
)

# Loaded on first use (PEP 562): the AWS, costs and Metaflow schemas and the folder loader
# are not needed to import the service or a page (tests/unit/test_layers.py).
__getattr__ = lazy_exports(
    __name__,
    {
        "AnchorBucketSettings": "aws",
        "AwsConfig": "aws",
        "BatchSettings": "aws",
        "IamSettings": "aws",
        "InstanceType": "aws",
        "LedgerSettings": "aws",
        "MetadataSettings": "aws",
        "RetrySettings": "aws",
        "S3Settings": "aws",
        "StepResources": "aws",
        "load_aws": "aws",
        "EndpointSettings": "endpoint",
        "BenefitPeriod": "costs",
        "BenefitSettings": "costs",
        "CostsConfig": "costs",
        "check_costs": "costs",
        "load_costs": "costs",
        "parse_aws": "metaflow",
        "parse_project": "metaflow",
        "ProjectSet": "project_set",
        "load_project_set": "project_set",
        "project_from_flow": "project_set",
        "project_set_from_text": "project_set",
        "set_from_flow": "project_set",
    },
)


__all__ = [
    "ApprovalPolicy",
    "AnchorBucketSettings",
    "AwsConfig",
    "BaselineSettings",
    "BatchSettings",
    "BenefitPeriod",
    "BenefitSettings",
    "ConfigError",
    "EndpointSettings",
    "CostsConfig",
    "DEFAULT_AWS_PATH",
    "DEFAULT_COSTS_PATH",
    "DEFAULT_PROJECT_PATH",
    "DEFAULT_ROLES_PATH",
    "DEFAULT_RULES_PATH",
    "FIXED_PARTITION_ROWS",
    "FeatureSpec",
    "GateSettings",
    "GeneratorSettings",
    "IntervalSettings",
    "GuardLimits",
    "IamSettings",
    "InputRule",
    "InstanceType",
    "LIFECYCLE_STAGES",
    "LedgerSettings",
    "ML_LENS_ROLES",
    "MetadataSettings",
    "MonitoringSettings",
    "OutputRule",
    "PHASES",
    "ProjectConfig",
    "PartitionRows",
    "ProjectFiles",
    "ProjectSet",
    "REGRESSION_METRICS",
    "HIGHER_IS_BETTER",
    "RaciEntry",
    "RangeSpec",
    "RetrySettings",
    "RolesConfig",
    "RulesConfig",
    "S3Settings",
    "ServiceSettings",
    "CaptureSettings",
    "MemorySettings",
    "SplitSettings",
    "StepResources",
    "StorageSettings",
    "TorchMLPSettings",
    "TrainingSettings",
    "ValidationSettings",
    "XGBoostSettings",
    "check_costs",
    "check_rules",
    "load_aws",
    "load_costs",
    "load_project",
    "load_project_set",
    "load_roles",
    "load_rules",
    "parse_aws",
    "parse_project",
    "project_file",
    "project_from_flow",
    "project_set_from_text",
    "set_from_flow",
]
