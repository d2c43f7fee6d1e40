"""Typed, validated project settings: one project folder (default config/) holding
project.yaml and the rules, roles, costs and aws files it names (``files:``).

Flows read the folder through one Metaflow ``Config`` with :func:`parse_project` as parser,
which freezes the whole set into the run; the CLI, the app and tests call
:func:`load_project_set` (or :func:`load_project` and friends for one file). Any problem
raises :class:`ConfigError` naming file, field and problem.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.trust.settings import IdentitySettings

DEFAULT_PROJECT_PATH = "config/project.yaml"
DEFAULT_ROLES_PATH = "config/roles.yaml"
DEFAULT_RULES_PATH = "config/rules.yaml"
DEFAULT_COSTS_PATH = "config/costs.yaml"
DEFAULT_AWS_PATH = "config/aws.yaml"

REGRESSION_METRICS = frozenset({"mae", "rmse", "p90_abs_error"})

ML_LENS_ROLES: tuple[str, ...] = (
    "Business Analyst",
    "Domain Expert",
    "Data Analyst",
    "Data Scientist",
    "Data Engineer",
    "ML Engineer",
    "MLOps Engineer",
    "AI/ML Architect",
    "Data Architect",
    "Model Risk Manager",
    "ML Operator",
    "IT Auditor",
    "Product Manager",
    "Architect",
    "Software Engineer",
    "DevOps Engineer",
    "System Admin",
    "Operator",
)
PHASES: tuple[str, ...] = (
    "Learning",
    "Prototyping",
    "Experimenting",
    "Building",
    "Deploying",
    "Scaling",
)
LIFECYCLE_STAGES: tuple[str, ...] = (
    "Collect",
    "Validate",
    "Features",
    "Train",
    "Model test",
    "Release",
    "Deploy",
    "Operate",
    "Monitor",
)


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or invalid; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeatureSpec(_Strict):
    type: Literal["float", "int", "bool", "category", "str"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None

    @model_validator(mode="after")
    def _check_domain(self) -> FeatureSpec:
        if self.type == "category" and not self.values:
            raise ValueError("a category feature needs a non-empty 'values' list")
        if self.type != "category" and self.values is not None:
            raise ValueError("'values' is only allowed for category features")
        if self.type in ("bool", "category", "str") and (
            self.min is not None or self.max is not None
        ):
            raise ValueError(f"'min'/'max' are not allowed for {self.type} features")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class RangeSpec(_Strict):
    min: float | None = None
    max: float | None = None


class ValidationSettings(_Strict):
    min_valid_fraction: float = Field(0.9, ge=0.0, le=1.0)
    future_tolerance_minutes: float = Field(10.0, ge=0.0)


class BaselineSettings(_Strict):
    """The Software 1.0 rule every model must beat (and the guard's fallback answer).

    ``stump`` (default, any task): the best one-feature split learned from the training
    data; it answers the mean (regression; the median when the key metric is MAE) or the
    positive rate (binary) of the side a row falls on. ``eta`` (regression): the ETA case's
    rule. ``mean`` / ``base_rate``: the training average, a constant. ``threshold``
    (binary): ``p_above`` where ``feature`` > ``above``, else ``p_below``.
    """

    rule: Literal["stump", "eta", "mean", "base_rate", "threshold"] = "stump"
    params: dict[str, float | str] = {}


class SplitSettings(_Strict):
    validation: float = Field(0.15, gt=0.0, lt=0.5)
    holdout: float = Field(0.15, gt=0.0, lt=0.5)


class XGBoostSettings(_Strict):
    n_estimators: int = Field(600, gt=0)
    max_depth: int = Field(6, gt=0)
    learning_rate: float = Field(0.06, gt=0)
    early_stopping_rounds: int = Field(30, gt=0)


class TorchMLPSettings(_Strict):
    hidden: list[int] = Field(default_factory=lambda: [64, 32], min_length=1)
    epochs: int = Field(80, gt=0)
    batch_size: int = Field(256, gt=0)
    learning_rate: float = Field(0.003, gt=0)
    patience: int = Field(8, gt=0)


class TrainingSettings(_Strict):
    families: list[Literal["baseline", "xgboost", "torch_mlp"]] = Field(
        default_factory=lambda: ["baseline", "xgboost", "torch_mlp"], min_length=1
    )
    split: SplitSettings = SplitSettings()
    seed: int = 42
    key_metric: Literal["mae", "rmse", "p90_abs_error", "roc_auc", "log_loss"] = "mae"
    slices: list[str] = []
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    xgboost: XGBoostSettings = XGBoostSettings()
    torch_mlp: TorchMLPSettings = TorchMLPSettings()


class GateSettings(_Strict):
    min_improvement: float = Field(0.05, ge=0.0, lt=1.0)
    min_improvement_over_champion: float = Field(0.0, ge=-1.0, lt=1.0)
    max_slice_regression: float = Field(0.0, ge=0.0)
    min_baseline_auc: float = Field(0.55, ge=0.5, lt=1.0)  # binary: a baseline must discriminate


class MonitoringSettings(_Strict):
    window_batches: int = Field(3, gt=0)
    psi_alert: float = Field(0.2, gt=0)
    ks_pvalue: float = Field(0.001, gt=0, lt=1)
    min_drifted_features: int = Field(2, gt=0)
    prediction_psi_alert: float = Field(0.2, gt=0)
    max_metric_decay: float = Field(0.25, gt=0)
    min_label_coverage: float = Field(0.2, ge=0, le=1)
    max_guard_rate_increase: float = Field(0.10, ge=0, le=1)
    late_feedback_days: float = Field(14, gt=0)
    # minimum sample sizes: below them a check says "not enough rows" instead of alerting
    min_rows_drift: int = Field(200, gt=0)  # usable feature rows for a per-feature drift test
    min_rows_prediction: int = Field(200, gt=0)  # answered rows for prediction drift
    min_rows_guard: int = Field(200, gt=0)  # scored rows for the guard-rate check
    min_labelled_rows: int = Field(50, gt=0)  # labelled rows for the performance check


class AppSettings(_Strict):
    dev_mode: bool = False  # true: pick who you are in the sidebar (demo); false: read-only
    # without an OIDC login (st.user)


class StorageSettings(_Strict):
    data_root: str = "data"
    ledger_url: str = "sqlite:///data/ledger.db"


class GeneratorSettings(_Strict):
    rows: int = Field(20000, gt=0)
    seed: int = 7
    bad_fraction: float = Field(0.02, ge=0.0, le=1.0)
    start: str = "2026-10-01T00:00:00"
    days: int = Field(28, gt=0)


class ProjectFiles(_Strict):
    """The other files of a project folder, relative to the folder holding project.yaml."""

    rules: str = "rules.yaml"
    roles: str = "roles.yaml"
    costs: str = "costs.yaml"
    aws: str = "aws.yaml"


class ServiceSettings(_Strict):
    """Limits of the scoring service: larger requests get 413 before they are parsed."""

    max_body_bytes: int = Field(1_048_576, gt=0)
    max_rows: int = Field(1000, gt=0)


class ProjectConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    task: Literal["regression", "binary"]
    target: str
    target_range: RangeSpec = RangeSpec()
    id_column: str
    timestamp_column: str
    features: dict[str, FeatureSpec] = Field(min_length=1)
    validation: ValidationSettings = ValidationSettings()
    baseline: BaselineSettings = BaselineSettings()
    training: TrainingSettings = TrainingSettings()
    gates: GateSettings = GateSettings()
    storage: StorageSettings = StorageSettings()
    # present only for the built-in food-delivery (ETA) use case: without it, ingest and
    # score need --source
    generator: GeneratorSettings | None = None
    monitoring: MonitoringSettings = MonitoringSettings()
    app: AppSettings = AppSettings()
    files: ProjectFiles = ProjectFiles()
    service: ServiceSettings = ServiceSettings()

    @model_validator(mode="after")
    def _check_columns(self) -> ProjectConfig:
        special = {self.target, self.id_column, self.timestamp_column}
        if len(special) != 3:
            raise ValueError("target, id_column and timestamp_column must be different columns")
        clash = special.intersection(self.features)
        if clash:
            raise ValueError(f"{sorted(clash)} cannot be both a feature and target/id/timestamp")
        for name in self.training.slices:
            if name not in self.features:
                raise ValueError(f"training.slices names {name!r}, which is not a feature")
        if (self.task == "regression") != (self.training.key_metric in REGRESSION_METRICS):
            raise ValueError(
                f"training.key_metric {self.training.key_metric!r} does not fit task {self.task!r}"
            )
        rules = {
            "regression": {"stump", "eta", "mean"},
            "binary": {"stump", "base_rate", "threshold"},
        }
        if self.baseline.rule not in rules[self.task]:
            raise ValueError(
                f"baseline.rule {self.baseline.rule!r} does not fit task {self.task!r} "
                f"(use one of {sorted(rules[self.task])})"
            )
        self._check_baseline_params()
        return self

    def _check_baseline_params(self) -> None:
        rule, params = self.baseline.rule, self.baseline.params
        known = {
            "eta": {"speed_kmh", "handling_minutes", "rain_minutes", "load_minutes_per_order"},
            "threshold": {"feature", "above", "p_above", "p_below"},
        }.get(rule, set())
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(
                f"baseline.params {unknown} are not parameters of rule {rule!r}"
                + (f" (known: {sorted(known)})" if known else " (it takes none)")
            )
        if rule == "eta":
            missing = sorted({"prep_minutes", "distance_km"} - set(self.features))
            if missing:
                raise ValueError(f"baseline rule 'eta' needs feature(s) {missing}")
        if rule == "threshold":
            feature = params.get("feature")
            spec = self.features.get(str(feature))
            if spec is None or spec.type not in ("float", "int", "bool"):
                raise ValueError(
                    "baseline rule 'threshold' needs params.feature naming a numeric or bool "
                    f"feature (got {feature!r})"
                )
            for key in ("above", "p_above", "p_below"):
                if key in params and not isinstance(params[key], int | float):
                    raise ValueError(f"baseline.params.{key} must be a number")
            for key in ("p_above", "p_below"):
                if key in params and not 0 <= float(params[key]) <= 1:
                    raise ValueError(f"baseline.params.{key} must be a probability (0 to 1)")

    @property
    def higher_is_better(self) -> bool:
        """Whether a larger key metric is better (ROC AUC) or worse (errors, log loss)."""
        return self.training.key_metric == "roc_auc"

    @property
    def required_columns(self) -> list[str]:
        """Columns every raw batch must carry (the target is optional: it may come later)."""
        return [self.id_column, self.timestamp_column, *self.features]

    def config_hash(self) -> str:
        """Stable hash of the effective settings (recorded with every model version)."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class RaciEntry(_Strict):
    R: list[str] = []
    A: list[str] = []
    C: list[str] = []
    I: list[str] = []  # noqa: E741


class ApprovalPolicy(_Strict):
    required_roles: list[str] = Field(min_length=1)


class RolesConfig(_Strict):
    phase: Literal["Learning", "Prototyping", "Experimenting", "Building", "Deploying", "Scaling"]
    members: dict[str, list[str]]
    raci: dict[str, RaciEntry]
    approval: ApprovalPolicy
    identity: IdentitySettings = IdentitySettings()  # shared/trust: logins, keys, dev mode

    @model_validator(mode="after")
    def _check_roles(self) -> RolesConfig:
        known = set(ML_LENS_ROLES)
        for role in self.members:
            if role not in known:
                raise ValueError(f"unknown role {role!r} in members (known: ML Lens roles)")
        for stage, entry in self.raci.items():
            if stage not in LIFECYCLE_STAGES:
                raise ValueError(f"unknown lifecycle stage {stage!r} in raci")
            for letter in ("R", "A", "C", "I"):
                for role in getattr(entry, letter):
                    if role not in known:
                        raise ValueError(f"unknown role {role!r} in raci.{stage}.{letter}")
        for role in self.approval.required_roles:
            if role not in known:
                raise ValueError(f"unknown role {role!r} in approval.required_roles")
        people = {p for ps in self.members.values() for p in ps}
        for section in ("logins", "public_keys"):
            for who in getattr(self.identity, section):
                if who not in people:
                    raise ValueError(f"identity.{section}: {who!r} is not a member of any role")
        return self

    def roles_of(self, user: str) -> list[str]:
        """The roles a user holds."""
        return [role for role, people in self.members.items() if user in people]


class InputRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["range", "allowed", "expression", "envelope"]
    action: Literal["reject", "fallback"] = "fallback"
    column: str | None = None
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    expr: str | None = None
    margin: float = Field(0.5, ge=0.0)

    @model_validator(mode="after")
    def _check(self) -> InputRule:
        need = {"range": ("column",), "allowed": ("column", "values"), "expression": ("expr",)}
        for f in need.get(self.kind, ()):
            if getattr(self, f) is None:
                raise ValueError(f"rule {self.name!r} ({self.kind}) needs '{f}'")
        if self.kind == "range" and self.min is None and self.max is None:
            raise ValueError(f"rule {self.name!r} (range) needs 'min' or 'max'")
        return self


class OutputRule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9_]+$")
    kind: Literal["floor", "cap", "round"]
    expr: str | None = None
    value: float | None = None
    decimals: int = 1

    @model_validator(mode="after")
    def _check(self) -> OutputRule:
        if self.kind == "floor" and self.expr is None:
            raise ValueError(f"rule {self.name!r} (floor) needs 'expr'")
        if self.kind == "cap" and self.value is None:
            raise ValueError(f"rule {self.name!r} (cap) needs 'value'")
        return self


class GuardLimits(_Strict):
    max_intervention_rate: float = Field(0.15, ge=0.0, le=1.0)


class RulesConfig(_Strict):
    version: int = 1
    input: list[InputRule] = []
    output: list[OutputRule] = []
    limits: GuardLimits = GuardLimits()

    @model_validator(mode="after")
    def _unique_names(self) -> RulesConfig:
        names = [r.name for r in self.input] + [r.name for r in self.output]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"rule names must be unique: {dup}")
        return self

    def rules_hash(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


# functions pandas' eval knows (numexpr's math functions)
_EXPR_FUNCTIONS = frozenset(
    "sin cos tan exp log expm1 log1p sqrt sinh cosh tanh arcsin arccos arctan arctan2 "
    "arccosh arcsinh arctanh abs".split()
)


def _sample_rows(cfg: ProjectConfig) -> Any:
    """Two typed rows spanning each feature's domain (as the guard types them)."""
    import pandas as pd

    cols: dict[str, Any] = {}
    for name, spec in cfg.features.items():
        if spec.type in ("float", "int"):
            lo = spec.min if spec.min is not None else 0.0
            hi = spec.max if spec.max is not None else lo + 1.0
            cols[name] = pd.Series([lo, hi], dtype=float)
        elif spec.type == "bool":
            cols[name] = pd.Series([False, True], dtype=bool)
        else:
            values = (spec.values or ["a", "b"]) * 2
            cols[name] = pd.Series(values[:2], dtype="string")
    return pd.DataFrame(cols)


def _expression_problems(expr: str, cfg: ProjectConfig, want: str) -> list[str]:
    """Why ``expr`` cannot be evaluated over the project's features (empty: it can).

    ``want`` is ``bool`` (an input rule: true where the row is fine) or ``number`` (a floor).
    """
    import ast

    import numpy as np

    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError as e:
        return [f"expression {expr!r} is not valid: {e.msg}"]
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - (called & _EXPR_FUNCTIONS)
    unknown = sorted(names - set(cfg.features))
    if unknown:
        return [
            f"expression {expr!r} names {', '.join(map(repr, unknown))}, not feature(s) of the "
            f"project (features: {', '.join(cfg.features)})"
        ]
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        columns = [
            n.id for n in sides if isinstance(n, ast.Name) and cfg.features[n.id].type == "category"
        ]
        consts = [n for n in sides if isinstance(n, ast.Constant)]
        for n in sides:
            if isinstance(n, ast.List | ast.Tuple | ast.Set):
                consts += [e for e in n.elts if isinstance(e, ast.Constant)]
        for col in columns:
            allowed = cfg.features[col].values or []
            outside = [c.value for c in consts if str(c.value) not in allowed]
            if outside:
                problems.append(
                    f"expression {expr!r} compares {col!r} with {outside}, outside its "
                    f"values {allowed}"
                )
    if problems:
        return problems
    try:
        out = np.asarray(_sample_rows(cfg).eval(expr))
    except Exception as e:  # noqa: BLE001 - any evaluation error is the rule's problem
        return [f"expression {expr!r} cannot be evaluated: {type(e).__name__}: {e}"]
    if want == "bool" and out.dtype != bool:
        return [f"expression {expr!r} must be true or false per row, not {out.dtype}"]
    if want == "number" and not np.issubdtype(out.dtype, np.number):
        return [f"expression {expr!r} must give a number per row, not {out.dtype}"]
    return []


def _rule_problems(rule: InputRule | OutputRule, cfg: ProjectConfig) -> list[str]:
    features = cfg.features
    if isinstance(rule, OutputRule):
        if rule.kind == "floor" and rule.expr is not None:
            return _expression_problems(rule.expr, cfg, "number")
        if rule.kind == "cap" and cfg.task == "binary" and not 0 <= (rule.value or 0) <= 1:
            return [f"cap {rule.value} is not a probability (binary task: between 0 and 1)"]
        return []
    if rule.kind == "expression" and rule.expr is not None:
        return _expression_problems(rule.expr, cfg, "bool")
    if rule.kind not in ("range", "allowed"):
        return []
    col = rule.column or ""
    if col not in features:
        return [f"column {col!r} is not a feature of the project (features: {', '.join(features)})"]
    spec = features[col]
    if rule.kind == "range" and spec.type not in ("float", "int", "bool"):
        return [f"a range needs a numeric feature; {col!r} is {spec.type}"]
    if rule.kind == "allowed" and spec.type == "category":
        outside = [v for v in rule.values or [] if v not in (spec.values or [])]
        if outside:
            return [f"value(s) {outside} are not among {col!r}'s values {spec.values}"]
    return []


def check_rules(rules: RulesConfig, cfg: ProjectConfig, source: str) -> None:
    """Raise :class:`ConfigError` unless every rule fits the project's features.

    A range or allowed rule must name a feature (a range: a numeric one; allowed values of
    a category: among its values); an expression may name only features and compare a
    category only with its values, and must evaluate (true/false for input rules, a number
    for floors; constants are fine). The message names the file, the rule and the problem.
    """
    problems = [
        f"rule {rule.name!r} ({rule.kind}): {problem}"
        for rule in [*rules.input, *rules.output]
        for problem in _rule_problems(rule, cfg)
    ]
    if problems:
        raise ConfigError(
            f"{source}: rules do not fit project {cfg.name!r}: " + "; ".join(problems)
        )


class BenefitSettings(_Strict):
    """What a model's answers are worth, by task (neutral names, any use case)."""

    predictions_per_month: float = Field(0.0, ge=0)
    # regression: value of one unit of key-metric improvement (e.g. one minute less MAE), per
    # prediction
    value_per_unit_improvement: float = Field(0.0, ge=0)
    # binary: value of each true positive, cost of each false positive, share of positives
    value_per_true_positive: float = Field(0.0, ge=0)
    cost_per_false_positive: float = Field(0.0, ge=0)
    prevalence: float | None = Field(None, gt=0, lt=1)


class CostsConfig(_Strict):
    currency: str = "USD"
    fixed_monthly: dict[str, float] = {}
    prices_per_hour: dict[str, float] = Field(default_factory=lambda: {"cpu": 0.4, "gpu": 1.2})
    benefit: BenefitSettings = BenefitSettings()
    months_per_model: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _prices(self) -> CostsConfig:
        for k in ("cpu", "gpu"):
            if k not in self.prices_per_hour:
                raise ValueError(f"prices_per_hour needs '{k}'")
        return self


class S3Settings(_Strict):
    datastore_root: str = Field(pattern=r"^s3://[a-z0-9.\-]+(/.*)?$")
    data_root: str = Field(pattern=r"^s3://[a-z0-9.\-]+(/.*)?$")


class InstanceType(_Strict):
    """What one instance of a compute environment can give a job: the vCPUs and the memory
    ECS registers (MiB, less than the instance's size), and its GPUs."""

    vcpus: int = Field(gt=0)
    memory: int = Field(gt=0)
    gpus: int = Field(0, ge=0)


class StepResources(_Strict):
    """What one kind of step asks AWS Batch for, and the instance type its queue runs."""

    instance_type: str = Field(min_length=1)
    cpu: int = Field(gt=0)
    memory: int = Field(gt=0)
    gpus: int = Field(0, ge=0)


class BatchSettings(_Strict):
    cpu_queue: str = Field(min_length=1)
    gpu_queue: str = Field(min_length=1)
    image: str = Field(min_length=1)
    gpu_image: str = Field(min_length=1)
    cpu_step: StepResources
    gpu_step: StepResources
    instance_types: dict[str, InstanceType] = Field(min_length=1)

    @model_validator(mode="after")
    def _fits(self) -> BatchSettings:
        if self.cpu_step.gpus:
            raise ValueError("cpu_step.gpus must be 0: steps that need a GPU use gpu_step")
        if not self.gpu_step.gpus:
            raise ValueError("gpu_step.gpus must be at least 1")
        for kind in ("cpu_step", "gpu_step"):
            step: StepResources = getattr(self, kind)
            it = self.instance_types.get(step.instance_type)
            if it is None:
                raise ValueError(
                    f"{kind}.instance_type {step.instance_type!r} is not in instance_types "
                    f"(named: {', '.join(self.instance_types)})"
                )
            for need, have, what in (
                (step.cpu, it.vcpus, "cpu (vCPUs)"),
                (step.memory, it.memory, "memory (MiB)"),
                (step.gpus, it.gpus, "gpus"),
            ):
                if need > have:
                    raise ValueError(
                        f"{kind} asks for {what} {need:g} but a {step.instance_type} can "
                        f"allocate {have:g}: the job would stay RUNNABLE; lower it or name a "
                        "larger instance type"
                    )
        return self


class IamSettings(_Strict):
    batch_job_role: str = Field(pattern=r"^arn:aws:iam::")
    step_functions_role: str = Field(pattern=r"^arn:aws:iam::")
    eventbridge_role: str = Field(pattern=r"^arn:aws:iam::")


class LedgerSettings(_Strict):
    url: str | None = None
    secret_name: str | None = None

    @model_validator(mode="after")
    def _one(self) -> LedgerSettings:
        if not self.url and not self.secret_name:
            raise ValueError("set ledger.url or ledger.secret_name (the production ledger)")
        return self


class MetadataSettings(_Strict):
    """Metaflow's metadata service (METAFLOW_SERVICE_URL): production runs then show in
    Metaflow's client and UI. None: local metadata inside each task (runs not listable)."""

    service_url: str | None = Field(None, pattern=r"^https?://")


class RetrySettings(_Strict):
    times: int = Field(2, ge=0, le=4)
    minutes_between: int = Field(2, ge=0)


class AwsConfig(_Strict):
    region: str = Field(min_length=1)
    s3: S3Settings
    batch: BatchSettings
    iam: IamSettings
    dynamodb_table: str = Field(min_length=1)
    ledger: LedgerSettings
    metadata: MetadataSettings = MetadataSettings()
    schedules: dict[str, str] = {}
    retry: RetrySettings = RetrySettings()
    timeout_minutes: int = Field(120, gt=0)


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


@dataclass(frozen=True)
class ProjectSet:
    """One project folder: project.yaml and the rules, roles and costs files it names."""

    project: ProjectConfig
    rules: RulesConfig
    roles: RolesConfig
    costs: CostsConfig
    sources: dict[str, str]  # "project" | "rules" | "roles" | "costs" -> the file read
    aws_path: str  # config/aws.yaml or the project's files.aws (read only to deploy)

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
        )


def check_costs(costs: CostsConfig, cfg: ProjectConfig, source: str) -> None:
    """The benefit settings must fit the project's task (regression or binary)."""
    b = costs.benefit
    binary_fields = ("value_per_true_positive", "cost_per_false_positive", "prevalence")
    if cfg.task == "regression":
        wrong = [f for f in binary_fields if getattr(b, f)]
        if wrong:
            raise ConfigError(
                f"{source}: field 'benefit.{wrong[0]}': is for binary tasks; project "
                f"{cfg.name!r} is a regression (use benefit.value_per_unit_improvement)"
            )
        return
    if b.value_per_unit_improvement:
        raise ConfigError(
            f"{source}: field 'benefit.value_per_unit_improvement': is for regression; project "
            f"{cfg.name!r} is binary (use value_per_true_positive, cost_per_false_positive, "
            "prevalence)"
        )
    if (b.value_per_true_positive or b.cost_per_false_positive) and b.prevalence is None:
        raise ConfigError(
            f"{source}: field 'benefit.prevalence': needed for a binary task's benefit (the "
            "share of positive cases, between 0 and 1)"
        )


def project_file(path: str | Path) -> Path:
    """A project folder (holding project.yaml) or the path of its project.yaml."""
    p = Path(path)
    return p / "project.yaml" if p.is_dir() else p


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
    costs: CostsConfig = _load(paths["costs"], CostsConfig)
    check_costs(costs, project, paths["costs"])
    rules: RulesConfig = _load(paths["rules"], RulesConfig)
    check_rules(rules, project, paths["rules"])
    return ProjectSet(
        project,
        rules,
        _load(paths["roles"], RolesConfig),
        costs,
        {"project": source, **paths},
        str(folder / files.aws),
    )


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


def load_project(path: str | Path = DEFAULT_PROJECT_PATH) -> ProjectConfig:
    """Read and validate a project config file (or the project.yaml of a folder)."""
    return _load(project_file(path), ProjectConfig)


def load_roles(path: str | Path = DEFAULT_ROLES_PATH) -> RolesConfig:
    """Read and validate a roles config file."""
    return _load(path, RolesConfig)


def load_rules(
    path: str | Path = DEFAULT_RULES_PATH, cfg: ProjectConfig | None = None
) -> RulesConfig:
    """Read and validate a guard rules file; with ``cfg``, check it fits the project too."""
    rules = _load(path, RulesConfig)
    if cfg is not None:
        check_rules(rules, cfg, str(path))
    return rules


def load_costs(path: str | Path = DEFAULT_COSTS_PATH) -> CostsConfig:
    """Read and validate the costs and benefit model."""
    return _load(path, CostsConfig)


def load_aws(path: str | Path = DEFAULT_AWS_PATH) -> AwsConfig:
    """Read and validate the production (AWS) settings."""
    return _load(path, AwsConfig)


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
            from shared.flowkit import RenkeiFlowError

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


def project_from_flow(value: Any) -> ProjectConfig:
    """Turn a Metaflow ``ConfigValue`` (already validated at parse time) into the model."""
    return set_from_flow(value).project


def set_from_flow(value: Any) -> ProjectSet:
    """The whole project set frozen into the flow's ``project`` Config."""
    data = value.to_dict() if hasattr(value, "to_dict") else dict(value)
    return ProjectSet.from_frozen(data)
