"""project.yaml's schema: features, validation, training, gates, intervals and monitoring (storage,
the service and capture: shared.config.running)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from .base import DEFAULT_PROJECT_PATH, _load, _Strict
from .intervals import AdaptiveSettings, IntervalSettings
from .memory import MemorySettings
from .running import (
    RUNNING_ONLY,
    CaptureSettings,
    ServiceSettings,
    StorageSettings,
)
from .search import SearchSettings

REGRESSION_METRICS = frozenset({"mae", "rmse", "p90_abs_error"})
# key metrics by classification task (regression: REGRESSION_METRICS)
CLASSIFICATION_METRICS = {
    "binary": frozenset({"roc_auc", "log_loss"}),
    "multiclass": frozenset({"log_loss", "accuracy", "macro_f1"}),
}
HIGHER_IS_BETTER = frozenset({"roc_auc", "accuracy", "macro_f1"})


class FeatureSpec(_Strict):
    type: Literal["float", "int", "bool", "category", "str"]
    min: float | None = None
    max: float | None = None
    values: list[str] | None = None
    # true: a row may lack this feature (null, empty or absent); ingest keeps it, XGBoost
    # takes the gap as missing, the MLP imputes it (training's median plus a missing
    # indicator; a category's missing level), the guard's contract lets it pass
    nullable: bool = False

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
    (binary): ``p_above`` where ``feature`` > ``above``, else ``p_below``. Multiclass:
    ``stump`` answers the class shares of the side a row falls on; ``majority``: the
    training class shares, a constant (its predicted class is the majority class).
    """

    rule: Literal["stump", "eta", "mean", "base_rate", "threshold", "majority"] = "stump"
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
    key_metric: Literal[
        "mae", "rmse", "p90_abs_error", "roc_auc", "log_loss", "accuracy", "macro_f1"
    ] = "mae"
    slices: list[str] = []
    threshold: float = Field(0.5, gt=0.0, lt=1.0)
    xgboost: XGBoostSettings = XGBoostSettings()
    torch_mlp: TorchMLPSettings = TorchMLPSettings()
    memory: MemorySettings = MemorySettings()
    search: SearchSettings = SearchSettings()  # off unless a family has a section


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
    # data drift compares a uniform sample of at most this many feature rows of the window
    # (read partition by partition) with the reference
    drift_sample_rows: int = Field(500_000, gt=0)
    # minimum sample sizes: below them a check says "not enough rows" instead of alerting
    min_rows_drift: int = Field(200, gt=0)  # usable feature rows for a per-feature drift test
    min_rows_prediction: int = Field(200, gt=0)  # answered rows for prediction drift
    min_rows_guard: int = Field(200, gt=0)  # scored rows for the guard-rate check
    min_labelled_rows: int = Field(50, gt=0)  # labelled rows for the performance check
    # intervals: empirical coverage on arrived labels below nominal by more than this: alert
    max_coverage_drop: float = Field(0.05, gt=0, lt=1)


# One dev-mode switch for the CLI, the app and the deploy: roles.yaml identity.dev_mode, the
# trust root reviewed in git (it already decides --as, demo keys and unsigned decisions).
MOVED_DEV_MODE = (
    "app.dev_mode moved to roles.yaml identity.dev_mode (one switch for the CLI and the app): "
    "delete the app section from project.yaml"
)


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


class ProjectConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    task: Literal["regression", "binary", "multiclass"]
    target: str
    # multiclass tasks: the target's classes (text); predicted_class is the most probable one
    classes: list[str] | None = None
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
    intervals: IntervalSettings = IntervalSettings()
    files: ProjectFiles = ProjectFiles()
    service: ServiceSettings = ServiceSettings()
    capture: CaptureSettings = CaptureSettings()

    @model_validator(mode="before")
    @classmethod
    def _moved(cls, data: object) -> object:
        if isinstance(data, dict) and isinstance(data.get("app"), dict):
            if "dev_mode" in data["app"]:
                raise ValueError(MOVED_DEV_MODE)
        return data

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
        if self.task != "regression" and (
            self.training.key_metric not in CLASSIFICATION_METRICS[self.task]
        ):
            raise ValueError(
                f"training.key_metric {self.training.key_metric!r} does not fit task {self.task!r}"
                f" (use one of {sorted(CLASSIFICATION_METRICS[self.task])})"
            )
        self._check_classes()
        rules = {
            "regression": {"stump", "eta", "mean"},
            "binary": {"stump", "base_rate", "threshold"},
            "multiclass": {"stump", "majority"},
        }
        if self.baseline.rule not in rules[self.task]:
            raise ValueError(
                f"baseline.rule {self.baseline.rule!r} does not fit task {self.task!r} "
                f"(use one of {sorted(rules[self.task])})"
            )
        self._check_baseline_params()
        return self

    def _check_classes(self) -> None:
        if self.task != "multiclass":
            if self.classes is not None:
                raise ValueError("'classes' is only for multiclass tasks")
            return
        classes = self.classes or []
        if len(classes) < 3:
            raise ValueError(
                "a multiclass task needs 'classes': at least three class names "
                "(two classes: use task binary)"
            )
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes must be unique: {classes}")
        bad = [c for c in classes if not c.strip() or "|" in c]
        if bad:
            raise ValueError(f"class names must be non-empty and hold no '|': {bad}")

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
        """Whether a larger key metric is better (ROC AUC, accuracy, macro F1) or worse
        (errors, log loss)."""
        return self.training.key_metric in HIGHER_IS_BETTER

    @property
    def nullable_features(self) -> list[str]:
        """Features a row may lack (``nullable: true``), in file order."""
        return [n for n, f in self.features.items() if f.nullable]

    @property
    def required_columns(self) -> list[str]:
        """Columns every raw batch must carry (the target is optional: it may come later)."""
        return [self.id_column, self.timestamp_column, *self.features]

    def portable_dump(self) -> dict:
        """The settings as JSON data, without the running-only ones that are at their
        defaults: the config hash stays what it was before they existed, and a bundle
        written with them still loads in a service from before them."""
        data = self.model_dump(mode="json")
        for section, name, default in RUNNING_ONLY:
            if data[section][name] == default:
                del data[section][name]
        if self.training.search == SearchSettings():  # off: loads where search is unknown
            del data["training"]["search"]
        return data

    def config_hash(self) -> str:
        """Stable hash of the effective settings (recorded with every model version)."""
        data = self.portable_dump()
        for spec in data["features"].values():  # the same hash as before nullable existed
            if not spec["nullable"]:
                del spec["nullable"]
        if self.classes is None:  # a setting only multiclass projects have: hashes stay
            del data["classes"]
        # the partition size changes no result (dataset versions are split-independent):
        # `auto` hashes as the fixed size it replaced as the default (issue 26), so hashes stay
        data["storage"]["partition_rows"] = self.storage.fixed_partition_rows()
        if self.training.memory == MemorySettings():  # the default: hashes stay
            del data["training"]["memory"]
        # training.search off (the default) is left out by portable_dump: hashes stay
        # online adaptation moves served intervals, never what training makes (issue 28): its
        # defaults leave the hash as it was
        if self.intervals.adaptive == AdaptiveSettings():
            del data["intervals"]["adaptive"]
        canonical = json.dumps(data, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def project_file(path: str | Path) -> Path:
    """A project folder (holding project.yaml) or the path of its project.yaml."""
    p = Path(path)
    return p / "project.yaml" if p.is_dir() else p


def load_project(path: str | Path = DEFAULT_PROJECT_PATH) -> ProjectConfig:
    """Read and validate a project config file (or the project.yaml of a folder)."""
    return _load(project_file(path), ProjectConfig)
