"""The XGBoost family (GPU when there is one); saved as the booster's JSON."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import build_features, check_features, feature_space

from .base import (
    META,
    FitReport,
    PartSource,
    _check_feature_list,
    pick_device,
    release_freed_memory,
)


def _part_iter(
    xgb: ModuleType, parts: PartSource, part: str, cfg: ProjectConfig, cache: str
) -> Any:
    """An ``xgboost.DataIter`` over one part of the split: features and labels, part by part."""
    import os

    class PartIter(xgb.DataIter):  # type: ignore[name-defined,misc]
        def __init__(self) -> None:
            self._frames: Any = None
            super().__init__(cache_prefix=os.path.join(cache, part))

        def next(self, input_data: Any) -> bool:
            if self._frames is None:
                self._frames = parts.frames(part)
            rows = next(self._frames, None)
            if rows is None:
                return False
            x = check_features(build_features(rows, cfg), cfg)
            input_data(data=x, label=rows[parts.target].to_numpy(dtype=float))
            return True

        def reset(self) -> None:
            self._frames = None

    return PartIter()


def xgboost_module() -> ModuleType:
    """xgboost, imported without its scikit-learn wrappers unless scikit-learn is loaded
    already: Renkei uses only ``train``, ``DMatrix`` and ``Booster``, and xgboost otherwise
    imports scikit-learn, ~0.9 s in every task that fits or loads a model
    (scikit-learn is a development dependency, absent from the Batch images; a process that
    imported it first keeps xgboost's wrappers)."""
    if "xgboost" not in sys.modules and "sklearn" not in sys.modules:
        sys.modules["sklearn"] = None  # type: ignore[assignment]  # import sklearn fails
        try:
            import xgboost
        finally:
            del sys.modules["sklearn"]  # a later `import sklearn` works as usual
    import xgboost

    return xgboost


# -- XGBoost ------------------------------------------------------------------------------
class XGBoostModel:
    family = "xgboost"

    def __init__(self, cfg: ProjectConfig, booster: Any = None, device: str | None = None) -> None:
        self.cfg = cfg
        self.booster = booster
        self.device = device or pick_device()
        # called with (iteration, validation loss) after each boosting round (a search trial
        # reports and prunes through it: an exception raised there ends the fit)
        self.progress: Callable[[int, float], None] | None = None

    def _callbacks(self, xgb: ModuleType) -> list[Any] | None:
        if self.progress is None:
            return None
        report = self.progress

        class Progress(xgb.callback.TrainingCallback):  # type: ignore[name-defined,misc]
            def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
                history = next(iter(evals_log["validation"].values()))
                report(epoch, float(history[-1]))
                return False

        return [Progress()]

    def _params(self, seed: int) -> dict[str, Any]:
        s = self.cfg.training.xgboost
        objective = "reg:squarederror" if self.cfg.task == "regression" else "binary:logistic"
        if self.cfg.task == "regression" and self.cfg.training.key_metric == "mae":
            objective = "reg:absoluteerror"
        extra: dict[str, Any] = {}
        if self.cfg.task == "multiclass":  # one probability per class, rows summing to 1
            objective = "multi:softprob"
            extra["num_class"] = len(self.cfg.classes or [])
        return {
            **extra,
            "objective": objective,
            "tree_method": "hist",
            "device": self.device,
            "max_depth": s.max_depth,
            "eta": s.learning_rate,
            "subsample": 0.9,
            "colsample_bytree": 0.9,
            "seed": seed,
            "nthread": 0,
        }

    def fit(
        self, rows: pd.DataFrame, y: np.ndarray, valid: pd.DataFrame, y_valid: np.ndarray, seed: int
    ) -> FitReport:
        xgb = xgboost_module()

        t0 = time.perf_counter()
        s = self.cfg.training.xgboost
        dtrain = xgb.DMatrix(check_features(build_features(rows, self.cfg), self.cfg), label=y)
        dvalid = xgb.DMatrix(build_features(valid, self.cfg), label=y_valid)
        self.booster = xgb.train(
            self._params(seed),
            dtrain,
            num_boost_round=s.n_estimators,
            evals=[(dvalid, "validation")],
            early_stopping_rounds=s.early_stopping_rounds,
            verbose_eval=False,
            callbacks=self._callbacks(xgb),
        )
        return FitReport(
            self.family, self.device, time.perf_counter() - t0, self.booster.best_iteration + 1
        )

    def fit_parts(self, parts: PartSource, seed: int) -> tuple[FitReport, list[str]]:
        """Fit through external memory (``ExtMemQuantileDMatrix``, xgboost >= 3.0): the train
        and validation rows are read batch by batch (``parts.frames``), quantised and cached
        on disk in a temporary folder (GPU when there is one, ``device``); no step uses a
        sample. XGBoost itself still keeps a few dozen bytes per train row while it boosts
        (gradients, predictions, row indices; the L1 objective's leaf quantiles)."""
        import tempfile

        xgb = xgboost_module()

        t0 = time.perf_counter()
        s = self.cfg.training.xgboost
        with tempfile.TemporaryDirectory(prefix="renkei-xgb-") as cache:
            dtrain = xgb.ExtMemQuantileDMatrix(_part_iter(xgb, parts, "train", self.cfg, cache))
            dvalid = xgb.ExtMemQuantileDMatrix(
                _part_iter(xgb, parts, "validation", self.cfg, cache), ref=dtrain
            )
            self.booster = xgb.train(
                self._params(seed),
                dtrain,
                num_boost_round=s.n_estimators,
                evals=[(dvalid, "validation")],
                early_stopping_rounds=s.early_stopping_rounds,
                verbose_eval=False,
            )
            del dtrain, dvalid
        release_freed_memory()
        report = FitReport(
            self.family, self.device, time.perf_counter() - t0, self.booster.best_iteration + 1
        )
        return report, []

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        xgb = xgboost_module()

        d = xgb.DMatrix(build_features(rows, self.cfg))
        return self.booster.predict(d, iteration_range=(0, self.booster.best_iteration + 1))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """Predictions for a feature matrix (the guard's plan), without a DMatrix."""
        return self.booster.inplace_predict(x, iteration_range=(0, self.booster.best_iteration + 1))

    def to_files(self) -> dict[str, bytes]:
        raw = self.booster.save_raw(raw_format="json")
        meta = {
            "family": self.family,
            "features": list(feature_space(self.cfg).columns),
            "best_iteration": int(self.booster.best_iteration),
        }
        return {"model.json": bytes(raw), META: json.dumps(meta, indent=2).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], cfg: ProjectConfig) -> XGBoostModel:
        xgb = xgboost_module()

        booster = xgb.Booster()
        booster.load_model(bytearray(files["model.json"]))
        meta = json.loads(files[META])
        booster.set_attr(best_iteration=str(meta["best_iteration"]))
        _check_feature_list(meta, cfg)
        return cls(cfg, booster, "cpu")
