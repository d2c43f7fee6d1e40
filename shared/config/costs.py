"""costs.yaml's schema: the benefit model, checked against the project's task."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator

from .base import DEFAULT_COSTS_PATH, ConfigError, _load, _Strict
from .project import ProjectConfig


class ClassBenefit(_Strict):
    """Multiclass: one class's share of the cases, the value of answering it right and the
    cost of answering it wrong (per prediction whose true class it is)."""

    share: float = Field(gt=0, le=1)
    value_if_right: float = Field(0.0, ge=0)
    cost_if_wrong: float = Field(0.0, ge=0)


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
    # multiclass: a row per class (every class of the project): share, value_if_right,
    # cost_if_wrong
    classes: dict[str, ClassBenefit] = {}


class BenefitPeriod(StrEnum):
    """How long a served model's benefit is counted."""

    MONTHS_PER_MODEL = "months_per_model"  # months_per_model for each version that served
    TIME_IN_PRODUCTION = "time_in_production"  # its actual time in production (alias history)


class CostsConfig(_Strict):
    currency: str = "USD"
    fixed_monthly: dict[str, float] = {}
    prices_per_hour: dict[str, float] = Field(default_factory=lambda: {"cpu": 0.4, "gpu": 1.2})
    benefit: BenefitSettings = BenefitSettings()
    months_per_model: float = Field(1.0, gt=0)
    # only versions that served production bring benefit; for how long (see BenefitPeriod)
    benefit_period: BenefitPeriod = BenefitPeriod.MONTHS_PER_MODEL

    @property
    def configured(self) -> bool:
        """Whether the project gave any costs or benefit at all (else: none configured)."""
        return bool(self.fixed_monthly) or self.benefit.predictions_per_month > 0

    @model_validator(mode="after")
    def _prices(self) -> CostsConfig:
        for k in ("cpu", "gpu"):
            if k not in self.prices_per_hour:
                raise ValueError(f"prices_per_hour needs '{k}'")
        return self


def check_costs(costs: CostsConfig, cfg: ProjectConfig, source: str) -> None:
    """The benefit settings must fit the project's task (regression or binary)."""
    b = costs.benefit
    binary_fields = ("value_per_true_positive", "cost_per_false_positive", "prevalence")
    if cfg.task == "multiclass":
        _check_class_table(costs, cfg, source)
        return
    if b.classes:
        raise ConfigError(
            f"{source}: field 'benefit.classes': is for multiclass tasks; project "
            f"{cfg.name!r} is {cfg.task}"
        )
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


def _check_class_table(costs: CostsConfig, cfg: ProjectConfig, source: str) -> None:
    b = costs.benefit
    wrong = [
        f
        for f in ("value_per_unit_improvement", "value_per_true_positive", "prevalence")
        if getattr(b, f)
    ]
    if wrong:
        raise ConfigError(
            f"{source}: field 'benefit.{wrong[0]}': does not fit multiclass project "
            f"{cfg.name!r} (use benefit.classes: share, value_if_right, cost_if_wrong per class)"
        )
    if not b.classes:
        return
    if set(b.classes) != set(cfg.classes or []):
        raise ConfigError(
            f"{source}: field 'benefit.classes': needs exactly the project's classes "
            f"{cfg.classes}, got {sorted(b.classes)}"
        )
    total = sum(c.share for c in b.classes.values())
    if abs(total - 1) > 0.01:
        raise ConfigError(
            f"{source}: field 'benefit.classes': the shares add up to {total:.3f}, not 1"
        )


def load_costs(path: str | Path = DEFAULT_COSTS_PATH) -> CostsConfig:
    """Read and validate the costs and benefit model."""
    return _load(path, CostsConfig)
