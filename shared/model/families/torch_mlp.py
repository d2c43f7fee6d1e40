"""The PyTorch MLP family: the only module that imports torch, and only when a model is fitted or loaded."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import build_features, check_features, feature_space
from shared.model.impute import Imputer

from .base import META, FitReport, PartSource, _check_feature_list


def _torch_device() -> str:
    """``cuda`` when torch can use a GPU, else ``cpu``."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


# -- PyTorch MLP --------------------------------------------------------------------------
def _mlp(width: int, hidden: list[int], outputs: int = 1) -> Any:
    from torch import nn

    layers: list[Any] = []
    prev = width
    for h in hidden:
        layers += [nn.Linear(prev, h), nn.ReLU()]
        prev = h
    layers.append(nn.Linear(prev, outputs))
    return nn.Sequential(*layers)


class TorchMLP:
    family = "torch_mlp"

    def __init__(
        self,
        cfg: ProjectConfig,
        net: Any = None,
        norm: dict[str, list[float]] | None = None,
        device: str | None = None,
        imputer: Imputer | None = None,
    ) -> None:
        self.cfg = cfg
        self.net = net
        self.norm = norm or {}
        self.device = device or _torch_device()
        self.imputer = imputer  # nullable features: gaps filled as training learned
        # called with (epoch, validation loss) after each epoch (a search trial reports and
        # prunes through it: an exception raised there ends the fit)
        self.progress: Callable[[int, float], None] | None = None

    def _x(self, rows: pd.DataFrame) -> np.ndarray:
        x = build_features(rows, self.cfg).to_numpy(dtype=np.float32)
        if self.imputer is not None:
            x = self.imputer.apply(x)
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
        self.imputer = Imputer.learn(feats, self.cfg)
        if self.imputer is not None:
            feats = self.imputer.apply(feats)
        std = feats.std(axis=0)
        self.norm = {"mean": feats.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1).tolist()}
        if self.cfg.task == "multiclass":
            return self._fit_classes(rows, y, valid, y_valid, seed, t0)
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
            if self.progress is not None:
                self.progress(epochs - 1, val)
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

    def fit_parts(self, parts: PartSource, seed: int) -> tuple[FitReport, list[str]]:
        """Fit through an iterable over the split's parts (:mod:`.torch_stream`)."""
        from .torch_stream import fit_mlp_parts

        return fit_mlp_parts(self, parts, seed)

    def _fit_classes(
        self,
        rows: pd.DataFrame,
        y: np.ndarray,
        valid: pd.DataFrame,
        y_valid: np.ndarray,
        seed: int,
        t0: float,
    ) -> FitReport:
        """Multiclass: a softmax head over the classes, cross-entropy, early stopping on the
        validation log loss."""
        from .torch_softmax import fit_softmax

        self.norm["y_mean"], self.norm["y_std"] = [0.0], [1.0]
        k = len(self.cfg.classes or [])
        self.net, epochs = fit_softmax(
            self._x(rows),
            y,
            self._x(valid),
            y_valid,
            k,
            self.cfg.training.torch_mlp,
            self.device,
            seed,
        )
        return FitReport(self.family, self.device, time.perf_counter() - t0, epochs)

    def _raw_out(self, x: Any) -> np.ndarray:
        import torch

        if self.cfg.task == "multiclass":
            with torch.no_grad():
                return torch.softmax(self.net(x).float(), dim=1).cpu().numpy().astype(float)
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
            **({"outputs": len(self.cfg.classes or [])} if self.cfg.task == "multiclass" else {}),
            "norm": self.norm,
        }
        if self.imputer is not None:  # the statistics scoring imputes with
            meta["impute"] = self.imputer.to_dict()
        return {"state_dict.pt": buf.getvalue(), META: json.dumps(meta, indent=2).encode()}

    @classmethod
    def from_files(cls, files: dict[str, bytes], cfg: ProjectConfig) -> TorchMLP:
        import torch

        meta = json.loads(files[META])
        _check_feature_list(meta, cfg)
        imputer = Imputer.from_dict(meta.get("impute"))
        extra = len(imputer.extra) if imputer is not None else 0
        net = _mlp(len(meta["features"]) + extra, meta["hidden"], int(meta.get("outputs", 1)))
        state = torch.load(
            io.BytesIO(files["state_dict.pt"]), weights_only=True, map_location="cpu"
        )
        net.load_state_dict(state)
        net.eval()
        return cls(cfg, net, meta["norm"], "cpu", imputer)
