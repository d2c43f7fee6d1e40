"""Adaptive intervals' update (shared/model/adaptive.py): the factor moves by
``gamma * (miss - alpha)`` per label, stays in its bounds, restores coverage under a shift
and comes back down when the shift goes; scores of the three tasks."""

from __future__ import annotations

import numpy as np
import pytest

from shared.config.intervals import AdaptiveSettings
from shared.model.adaptive import LabelScores, adapted, label_scores, replay, track
from shared.model.conformal import Calibration, Scale

S = AdaptiveSettings(gamma=0.05, min_factor=0.5, max_factor=3.0)


def _scores(u: np.ndarray) -> LabelScores:
    return LabelScores(np.asarray(u, dtype=float), np.zeros(len(u), dtype=bool))


def test_one_miss_raises_and_one_hit_lowers_the_factor_by_the_rule() -> None:
    miss = track(_scores([2.0]), 1.0, 0.9, S)
    hit = track(_scores([0.5]), 1.0, 0.9, S)
    assert miss.new_factor == pytest.approx(1.0 + 0.05 * 0.9)
    assert hit.new_factor == pytest.approx(1.0 - 0.05 * 0.1)
    assert (miss.labels, miss.covered, hit.covered) == (1, 0, 1)


def test_the_factor_stays_within_its_bounds() -> None:
    assert track(_scores([100.0] * 500), 1.0, 0.9, S).new_factor == 3.0
    assert track(_scores([0.0] * 500), 1.0, 0.9, S).new_factor == 0.5


def test_a_shift_is_tracked_back_to_nominal_coverage_and_undone_after_it() -> None:
    rng = np.random.default_rng(0)
    calm = np.abs(rng.normal(size=4000)) / 1.645  # covered at factor 1 with 90% probability
    shifted = _scores(1.4 * np.abs(rng.normal(size=4000)) / 1.645)
    r = replay(shifted, 100, 0.9, S)
    assert r.without < 0.80  # the calibrated quantile under-covers the shifted scores
    assert abs(r.with_adaptation - 0.9) < 0.02
    assert r.factors[-1] == pytest.approx(1.4, abs=0.15)
    back = replay(_scores(calm), 100, 0.9, S, factor=r.factors[-1])
    assert back.factors[-1] == pytest.approx(1.0, abs=0.12)


def test_adapted_scales_both_quantiles_and_one_is_the_calibration_itself() -> None:
    cal = Calibration("regression", 0.9, Scale(1.5, 2.0, 0.1, 0.5), Scale(2.0, 1.0), 100)
    assert adapted(cal, 1.0) is cal
    a = adapted(cal, 1.2)
    assert (a.model.q, a.baseline.q) == (pytest.approx(1.8), pytest.approx(2.4))
    assert (a.model.a, a.model.b, a.model.floor) == (2.0, 0.1, 0.5)


def test_scores_are_covered_exactly_when_the_interval_at_the_factor_holds_the_label() -> None:
    cal = Calibration("regression", 0.9, Scale(1.5, 2.0, 0.1, 0.5), Scale(2.0, 1.0), 100)
    pred = np.array([20.0, 20.0, 30.0])
    y = np.array([24.0, 27.0, 33.0])
    by_model = np.array([True, True, False])
    s = label_scores(cal, pred, y, by_model)
    for f in (0.8, 1.0, 1.3):
        half = adapted(cal, f).half_width(pred, by_model)
        assert s.covered(f).tolist() == (np.abs(y - pred) <= half).tolist()


def test_binary_and_multiclass_keep_the_answered_class_covered() -> None:
    cal = Calibration("binary", 0.9, Scale(0.3), Scale(0.4), 100)
    s = label_scores(cal, np.array([0.9, 0.9, 0.6]), np.array([1.0, 0.0, 0.0]), np.ones(3, bool))
    assert s.covered(1.0).tolist() == [True, False, False]  # 0.9 > 0.3; 0.6 > 0.3
    assert s.covered(2.0).tolist() == [True, False, True]  # 0.6 <= 0.6
    mc = Calibration("multiclass", 0.9, Scale(0.5), Scale(0.5), 100)
    p = np.array([[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]])
    s = label_scores(mc, np.zeros(2), np.array([0.0, 1.0]), np.ones(2, bool), probabilities=p)
    assert s.covered(1.0).tolist() == [True, False]  # 1 - 0.2 = 0.8 > 0.5
    assert s.covered(1.7).tolist() == [True, True]
