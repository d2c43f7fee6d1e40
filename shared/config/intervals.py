"""Interval settings: the conformal coverage (shared/model/conformal.py) and its online
adaptation (shared/model/adaptive.py)."""

from __future__ import annotations

from pydantic import Field

from .base import _Strict

__all__ = ["AdaptiveSettings", "IntervalSettings"]


class AdaptiveSettings(_Strict):
    """Adaptive intervals (shared/model/adaptive.py): the calibrated quantile times a factor
    that arriving labels move by ``gamma * (miss - (1 - coverage))`` each, within
    ``[min_factor, max_factor]``; off: the calibrated quantile stays."""

    enabled: bool = True
    gamma: float = Field(0.05, gt=0.0, le=1.0)
    min_factor: float = Field(0.5, gt=0.0, le=1.0)
    max_factor: float = Field(3.0, ge=1.0)


class IntervalSettings(_Strict):
    """Conformal intervals (shared/model/conformal.py): the nominal coverage of every
    answer's interval (regression) or prediction set (binary), calibrated at training."""

    coverage: float = Field(0.9, gt=0.5, lt=1.0)
    adaptive: AdaptiveSettings = AdaptiveSettings()
