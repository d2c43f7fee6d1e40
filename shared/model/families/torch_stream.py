"""The MLP fitted through an iterable over the parts of a split (training.memory: external).

The train parts are read once, in batches of ``batch_rows`` rows: their features (imputed
with statistics learned on the seeded train sample, when a feature is nullable) are cached
as arrays in a temporary folder while the normalisation (mean, std of every feature, and of
the label for regression) is summed; each epoch then visits the batches in a seeded order,
``MIX_ROWS`` rows' worth at a time, their rows shuffled together in a seeded order, in
mini-batches as :meth:`TorchMLP.fit` does. Early stopping on the validation parts' loss.
A multiclass MLP (a softmax head trained on arrays) is fitted on the seeded samples.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from shared.data.features import build_features, check_features
from shared.model.impute import Imputer

from .base import FitReport, PartSource, release_freed_memory

if TYPE_CHECKING:
    from .torch_mlp import TorchMLP


def _loss(task: str, p: np.ndarray, y: np.ndarray) -> float:
    """The validation loss :meth:`TorchMLP._valid_loss` computes, on gathered predictions."""
    if task == "regression":
        return float(np.abs(p - y).mean())
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _cache_parts(m: TorchMLP, parts: PartSource, part: str, cache: str) -> list[str]:
    """Raw (imputed) features and labels of each part saved as .npy files; their paths."""
    paths = []
    for i, rows in enumerate(parts.frames(part)):
        x = check_features(build_features(rows, m.cfg), m.cfg).to_numpy(np.float32)
        if m.imputer is not None:
            x = m.imputer.apply(x)
        path = os.path.join(cache, f"{part}-{i:05d}.npz")
        np.savez(path, x=x, y=rows[parts.target].to_numpy(np.float32))
        paths.append(path)
    return paths


def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as d:
        return d["x"], d["y"]


def _load_many(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    loaded = [_load(p) for p in paths]
    if len(loaded) == 1:
        return loaded[0]
    return np.concatenate([x for x, _ in loaded]), np.concatenate([y for _, y in loaded])


# The rows shuffled together in an epoch: a few cached batches at once (the train rows are in
# time order within a part, so mini-batches drawn from one small batch would each see a
# narrow time window); bounded, so what the fit holds does not grow with the rows.
MIX_ROWS = 1 << 18


def fit_mlp_parts(m: TorchMLP, parts: PartSource, seed: int) -> tuple[FitReport, list[str]]:
    """Fit ``m`` over ``parts``; the report and the steps that used the seeded sample."""
    import torch

    from .torch_mlp import _mlp

    cfg, s = m.cfg, m.cfg.training.torch_mlp
    if cfg.task == "multiclass":
        tr, va = parts.sample("train"), parts.sample("validation")
        y, yv = (f[parts.target].to_numpy(dtype=float) for f in (tr, va))
        return m.fit(tr, y, va, yv, seed), ["fit"]
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    sampled: list[str] = []
    m.imputer = None
    if cfg.nullable_features:  # the gaps' fill values: medians of the seeded sample
        sample = parts.sample("train")
        m.imputer = Imputer.learn(build_features(sample, cfg).to_numpy(np.float32), cfg)
        sampled.append("imputer")
        del sample
    regression = cfg.task == "regression"
    with tempfile.TemporaryDirectory(prefix="renkei-mlp-") as cache:
        train, valid = (_cache_parts(m, parts, p, cache) for p in ("train", "validation"))
        n, sx, sxx, sy, syy = 0, 0.0, 0.0, 0.0, 0.0
        for path in train:
            x, y = _load(path)
            x64, y64 = x.astype(np.float64), y.astype(np.float64)
            n += len(x)
            sx, sxx = sx + x64.sum(axis=0), sxx + (x64**2).sum(axis=0)
            sy, syy = sy + y64.sum(), syy + (y64**2).sum()
        mean = sx / n
        std = np.sqrt(np.maximum(sxx / n - mean**2, 0.0))
        y_mean, y_std = sy / n, float(np.sqrt(max(syy / n - (sy / n) ** 2, 0.0)))
        m.norm = {"mean": mean.tolist(), "std": np.where(std > 0, std, 1).tolist()}
        m.norm["y_mean"] = [float(y_mean)] if regression else [0.0]
        m.norm["y_std"] = [float(y_std or 1.0)] if regression else [1.0]
        mu, sd = (np.asarray(m.norm[k], np.float32) for k in ("mean", "std"))
        dev = torch.device(m.device)
        m.net = _mlp(len(mu), s.hidden).to(dev)
        opt = torch.optim.Adam(m.net.parameters(), lr=s.learning_rate)
        if regression:
            loss_fn: Any = (
                torch.nn.L1Loss() if cfg.training.key_metric == "mae" else torch.nn.MSELoss()
            )
        else:
            loss_fn = torch.nn.BCEWithLogitsLoss()
        best, best_state, since, epochs = float("inf"), None, 0, 0
        group = max(1, MIX_ROWS // cfg.training.memory.batch_rows)
        for _epoch in range(s.epochs):
            epochs += 1
            m.net.train()
            files = rng.permutation(len(train))
            for g in range(0, len(files), group):  # a shuffle window of ~MIX_ROWS rows
                x, y = _load_many([train[k] for k in files[g : g + group]])
                xt = torch.tensor((x - mu) / sd, device=dev)
                yt = torch.tensor((y - m.norm["y_mean"][0]) / m.norm["y_std"][0], device=dev)
                order = torch.tensor(rng.permutation(len(xt)), device=dev)
                for i in range(0, len(order), s.batch_size):
                    idx = order[i : i + s.batch_size]
                    opt.zero_grad()
                    loss = loss_fn(m.net(xt[idx]).squeeze(1), yt[idx])
                    loss.backward()
                    opt.step()
            m.net.eval()
            ps, ys = [], []
            for path in valid:
                x, y = _load(path)
                ps.append(m._raw_out(torch.tensor((x - mu) / sd, device=dev)))
                ys.append(y)
            val = _loss(cfg.task, np.concatenate(ps), np.concatenate(ys))
            if val < best - 1e-6:
                best, since = val, 0
                best_state = {k: v.detach().clone() for k, v in m.net.state_dict().items()}
            else:
                since += 1
                if since >= s.patience:
                    break
    if best_state is not None:
        m.net.load_state_dict(best_state)
    m.net.eval()
    release_freed_memory()
    return FitReport(m.family, m.device, time.perf_counter() - t0, epochs), sampled
