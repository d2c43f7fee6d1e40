"""Candidate families: the Software 1.0 baseline, XGBoost and a PyTorch MLP.

Every model takes validated rows (not features: it calls :func:`build_features` itself, so
training and scoring share one implementation) and serialises to open formats: JSON for
the baseline and XGBoost, a PyTorch state dict (loaded with ``weights_only=True``) plus JSON
metadata for the MLP. No pickles of arbitrary objects.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import build_features, check_features, feature_space

META = "meta.json"


def pick_device() -> str:
    """``cuda`` when a GPU is usable, else ``cpu``."""
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover - torch is a dependency
        return "cpu"


class Model(Protocol):
    family: str
    device: str

    def predict(self, rows: pd.DataFrame) -> np.ndarray: ...

    def to_files(self) -> dict[str, bytes]: ...


@dataclass(frozen=True)
class FitReport:
    """How a fit went: device, wall time, iterations used (early stopping)."""

    family: str
    device: str
    seconds: float
    iterations: int


# -- Software 1.0 baseline ---------------------------------------------------------------
def _stump_order(x: pd.Series, kind: str, y: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """A feature as numbers to split on; a category becomes its mean target (its levels
    sorted by it), so one threshold picks the best group of levels."""
    if kind != "category":
        return x.astype(float).to_numpy(), []
    text = x.astype(str).to_numpy()
    means = pd.Series(y).groupby(text).mean()
    return means.reindex(text).to_numpy(dtype=float), [str(v) for v in means.index]


def learn_stump(
    rows: pd.DataFrame, y: np.ndarray, cfg: ProjectConfig, bins: int = 64
) -> dict[str, Any]:
    """The one-feature split of the training rows that explains the most of ``y``'s variance
    (squared error; for 0/1 labels the Gini impurity): feature, threshold, both sides' answers.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    min_leaf = max(5, n // 100)
    best: tuple[float, str, float] | None = None
    for name, spec in cfg.features.items():
        if spec.type == "str":
            continue
        x, _ = _stump_order(rows[name], spec.type, y)
        order = np.argsort(x, kind="stable")
        xs, ys = x[order], y[order]
        cut = np.unique(np.quantile(xs, np.linspace(0, 1, bins + 1)[1:-1]))
        left_n = np.searchsorted(xs, cut, side="right")
        ok = (left_n >= min_leaf) & (n - left_n >= min_leaf)
        if not ok.any():
            continue
        s1, s2 = np.concatenate([[0], np.cumsum(ys)]), np.concatenate([[0], np.cumsum(ys**2)])
        ln, rn = left_n[ok], n - left_n[ok]
        sse = s2[ln] - s1[ln] ** 2 / ln + (s2[n] - s2[ln]) - (s1[n] - s1[ln]) ** 2 / rn
        k = int(np.argmin(sse))
        if best is None or sse[k] < best[0] - 1e-9:
            best = (float(sse[k]), name, float(cut[ok][k]))
    if best is None:  # nothing to split on: the training average
        return {"feature": "", "threshold": 0.0, "left": float(y.mean()), "right": float(y.mean())}
    _, name, threshold = best
    spec = cfg.features[name]
    x, levels = _stump_order(rows[name], spec.type, y)
    right = x > threshold
    median = cfg.task == "regression" and cfg.training.key_metric == "mae"

    def answer(part: np.ndarray) -> float:
        if cfg.task == "binary":  # smoothed positive rate: never exactly 0 or 1
            return float((part.sum() + 1) / (len(part) + 2))
        return float(np.median(part) if median else part.mean())

    stump: dict[str, Any] = {
        "feature": name,
        "threshold": threshold,
        "left": answer(y[~right]),
        "right": answer(y[right]),
    }
    if levels:
        text = rows[name].astype(str).to_numpy()
        stump["right_values"] = sorted(set(text[right].tolist()))
    return stump


class Baseline:
    """The rule a team would ship without ML (see ``BaselineSettings``). ``stump``: the best
    one-feature split learned from the training rows; ``eta``: prep time + distance at a
    typical speed + handling + rain and courier-load buffers; ``mean``/``base_rate``: the
    training average; ``threshold``: ``p_above`` above a feature threshold, else ``p_below``."""

    family = "baseline"
    device = "cpu"

    def __init__(self, cfg: ProjectConfig, stats: dict[str, Any] | None = None) -> None:
        self.cfg = cfg  # the rule and its params are checked when the config is loaded
        self.rule = cfg.baseline.rule
        self.params = dict(cfg.baseline.params)
        self.stats = stats or {}

    def fit(self, rows: pd.DataFrame, y: np.ndarray) -> FitReport:
        t0 = time.perf_counter()
        self.stats = {"mean": float(np.mean(y))}
        if self.rule == "stump":
            self.stats["stump"] = learn_stump(rows, y, self.cfg)
        return FitReport(self.family, "cpu", time.perf_counter() - t0, 0)

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        n = len(rows)
        p = self.params
        if self.rule == "stump" and "stump" in self.stats:
            st = self.stats["stump"]
            if not st["feature"]:
                return np.full(n, st["left"])
            x = rows[st["feature"]]
            if "right_values" in st:
                right = x.astype(str).isin(st["right_values"]).to_numpy()
            else:
                right = x.astype(float).to_numpy() > st["threshold"]
            return np.where(right, st["right"], st["left"])
        if self.rule == "eta":
            minutes = rows["prep_minutes"].astype(float).to_numpy()
            minutes = (
                minutes
                + rows["distance_km"].astype(float).to_numpy()
                / float(p.get("speed_kmh", 17))
                * 60.0
            )
            minutes = minutes + float(p.get("handling_minutes", 3))
            if "rain" in rows:
                minutes = (
                    minutes
                    + float(p.get("rain_minutes", 4)) * rows["rain"].astype(float).to_numpy()
                )
            if "courier_load" in rows:
                minutes = (
                    minutes
                    + float(p.get("load_minutes_per_order", 0.6))
                    * rows["courier_load"].astype(float).to_numpy()
                )
            return minutes
        if self.rule == "threshold":
            above = rows[str(p["feature"])].astype(float).to_numpy() > float(p.get("above", 0))
            return np.where(above, float(p.get("p_above", 0.8)), float(p.get("p_below", 0.2)))
        return np.full(n, self.stats.get("mean", 0.0))

    def to_files(self) -> dict[str, bytes]:
        meta = {
            "family": self.family,
            "rule": self.rule,
            "params": self.params,
            "stats": self.stats,
        }
        return {META: json.dumps(meta, indent=2).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], cfg: ProjectConfig) -> Baseline:
        meta = json.loads(files[META])
        return cls(cfg, meta["stats"])


# -- XGBoost ------------------------------------------------------------------------------
class XGBoostModel:
    family = "xgboost"

    def __init__(self, cfg: ProjectConfig, booster: Any = None, device: str | None = None) -> None:
        self.cfg = cfg
        self.booster = booster
        self.device = device or pick_device()

    def _params(self, seed: int) -> dict[str, Any]:
        s = self.cfg.training.xgboost
        objective = "reg:squarederror" if self.cfg.task == "regression" else "binary:logistic"
        if self.cfg.task == "regression" and self.cfg.training.key_metric == "mae":
            objective = "reg:absoluteerror"
        return {
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
        import xgboost as xgb

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
        )
        return FitReport(
            self.family, self.device, time.perf_counter() - t0, self.booster.best_iteration + 1
        )

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        import xgboost as xgb

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
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(files["model.json"]))
        meta = json.loads(files[META])
        booster.set_attr(best_iteration=str(meta["best_iteration"]))
        _check_feature_list(meta, cfg)
        return cls(cfg, booster, "cpu")


# -- PyTorch MLP --------------------------------------------------------------------------
def _mlp(width: int, hidden: list[int]) -> Any:
    from torch import nn

    layers: list[Any] = []
    prev = width
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, 1))
    return nn.Sequential(*layers)


class TorchMLP:
    family = "torch_mlp"

    def __init__(
        self,
        cfg: ProjectConfig,
        net: Any = None,
        norm: dict[str, list[float]] | None = None,
        device: str | None = None,
    ) -> None:
        self.cfg = cfg
        self.net = net
        self.norm = norm or {}
        self.device = device or pick_device()

    def _x(self, rows: pd.DataFrame) -> np.ndarray:
        x = build_features(rows, self.cfg).to_numpy(dtype=np.float32)
        return (x - np.asarray(self.norm["mean"], np.float32)) / np.asarray(
            self.norm["std"], np.float32
        )

    def fit(
        self, rows: pd.DataFrame, y: np.ndarray, valid: pd.DataFrame, y_valid: np.ndarray, seed: int
    ) -> FitReport:
        import torch

        t0 = time.perf_counter()
        s = self.cfg.training.torch_mlp
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        feats = check_features(build_features(rows, self.cfg), self.cfg).to_numpy(np.float32)
        std = feats.std(axis=0)
        self.norm = {"mean": feats.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1).tolist()}
        y = np.asarray(y, np.float32)
        regression = self.cfg.task == "regression"
        self.norm["y_mean"] = [float(y.mean())] if regression else [0.0]
        self.norm["y_std"] = [float(y.std() or 1.0)] if regression else [1.0]
        dev = torch.device(self.device)
        xt = torch.tensor(self._x(rows), device=dev)
        yt = torch.tensor((y - self.norm["y_mean"][0]) / self.norm["y_std"][0], device=dev)
        xv = torch.tensor(self._x(valid), device=dev)
        yv = np.asarray(y_valid, np.float32)
        self.net = _mlp(xt.shape[1], s.hidden).to(dev)
        opt = torch.optim.Adam(self.net.parameters(), lr=s.learning_rate)
        if regression:
            loss_fn = (
                torch.nn.L1Loss() if self.cfg.training.key_metric == "mae" else torch.nn.MSELoss()
            )
        else:
            loss_fn = torch.nn.BCEWithLogitsLoss()
        best, best_state, since, epochs = float("inf"), None, 0, 0
        for _epoch in range(s.epochs):
            epochs += 1
            self.net.train()
            order = torch.tensor(rng.permutation(len(xt)), device=dev)
            for i in range(0, len(order), s.batch_size):
                idx = order[i : i + s.batch_size]
                opt.zero_grad()
                loss = loss_fn(self.net(xt[idx]).squeeze(1), yt[idx])
                loss.backward()
                opt.step()
            val = self._valid_loss(xv, yv)
            if val < best - 1e-6:
                best, since = val, 0
                best_state = {k: v.detach().clone() for k, v in self.net.state_dict().items()}
            else:
                since += 1
                if since >= s.patience:
                    break
        if best_state is not None:
            self.net.load_state_dict(best_state)
        self.net.eval()
        return FitReport(self.family, self.device, time.perf_counter() - t0, epochs)

    def _raw_out(self, x: Any) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = self.net(x).squeeze(1).float().cpu().numpy()
        if self.cfg.task == "regression":
            return out * self.norm["y_std"][0] + self.norm["y_mean"][0]
        return 1.0 / (1.0 + np.exp(-out))

    def _valid_loss(self, xv: Any, yv: np.ndarray) -> float:
        self.net.eval()
        p = self._raw_out(xv)
        if self.cfg.task == "regression":
            return float(np.abs(p - yv).mean())
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return float(-(yv * np.log(p) + (1 - yv) * np.log(1 - p)).mean())

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        import torch

        x = torch.tensor(self._x(rows), device=next(self.net.parameters()).device)
        return self._raw_out(x)

    def to_files(self) -> dict[str, bytes]:
        import torch

        buf = io.BytesIO()
        torch.save({k: v.cpu() for k, v in self.net.state_dict().items()}, buf)
        meta = {
            "family": self.family,
            "features": list(feature_space(self.cfg).columns),
            "hidden": list(self.cfg.training.torch_mlp.hidden),
            "norm": self.norm,
        }
        return {"state_dict.pt": buf.getvalue(), META: json.dumps(meta, indent=2).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], cfg: ProjectConfig) -> TorchMLP:
        import torch

        meta = json.loads(files[META])
        _check_feature_list(meta, cfg)
        net = _mlp(len(meta["features"]), meta["hidden"])
        state = torch.load(
            io.BytesIO(files["state_dict.pt"]), weights_only=True, map_location="cpu"
        )
        net.load_state_dict(state)
        net.eval()
        return cls(cfg, net, meta["norm"], "cpu")


def _check_feature_list(meta: dict[str, Any], cfg: ProjectConfig) -> None:
    expected = list(feature_space(cfg).columns)
    if meta["features"] != expected:
        raise ValueError(
            "model was trained on other features than the project config declares: "
            f"{meta['features']} != {expected}"
        )


# the files each family writes (besides envelope.json, which training adds)
ARTIFACT_FILES: dict[str, list[str]] = {
    "baseline": [META],
    "xgboost": ["model.json", META],
    "torch_mlp": ["state_dict.pt", META],
}

FAMILIES: dict[str, Any] = {"baseline": Baseline, "xgboost": XGBoostModel, "torch_mlp": TorchMLP}


def new_model(family: str, cfg: ProjectConfig) -> Any:
    if family not in FAMILIES:
        raise ValueError(f"unknown model family {family!r} (known: {sorted(FAMILIES)})")
    return FAMILIES[family](cfg)


def load_model(files: dict[str, bytes], cfg: ProjectConfig) -> Any:
    """Rebuild a model from its files (as written by ``to_files``)."""
    family = json.loads(files[META])["family"]
    return FAMILIES[family].from_files(files, cfg)
