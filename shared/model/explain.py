"""Per-answer feature contributions: what drove one model's answer for one row.

Each family explains itself on the scale where its contributions add up:

* **XGBoost**: the booster's native ``pred_contribs`` (TreeSHAP, exact for trees). The
  contributions plus the bias add up to the raw answer, the booster's margin: the minutes
  of a regression, the log-odds of a binary answer, the predicted class's margin (its
  softmax logit) for multiclass. Exact up to XGBoost's float32 arithmetic: within 1e-5 of
  the answer's size (:data:`XGB_TOLERANCE`; 4.6e-5 minutes at most on ETA answers of
  10-70 minutes, 1e-6 relative; tested).
* **PyTorch MLP**: integrated gradients from the training mean (the zero input of the
  normalised network) to the row, ``steps`` midpoints of the straight path. Contributions
  plus the bias (the answer at the training mean) add up to the raw answer (minutes,
  log-odds or the predicted class's logit) within :data:`MLP_TOLERANCE` times the sum of
  the contributions' sizes (the Riemann sum's error; measured on the ETA holdout with 64
  steps: at most 0.8%, 0.1 minute; 0.4% with 128 steps at 1.4x the cost; tested).
* **The baseline** (the Software 1.0 rule) explains itself: a stump's split feature gets
  the move from the training average to its side's answer; the ETA rule's terms are its
  features' contributions (prep minutes, distance at the typical speed, rain, courier
  load; handling is the bias); a threshold rule's feature gets ``p_above - p_below`` above
  the threshold; a constant has no contribution. Exact, on the answer's own scale.

Multiclass: each row is explained for its predicted class (the class the answer names).
Columns a feature becomes (one-hot levels, the hour's clock, the MLP's missing indicator)
are summed back to that feature: one contribution per configured feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shared.config import ProjectConfig
from shared.data.features import feature_columns, feature_matrix, feature_space, missing

MLP_STEPS = 64  # integrated gradients: midpoints of the path (cost grows linearly)
# the MLP's completeness: |sum(contributions) + bias - raw| <= MLP_TOLERANCE * (sum|c| + 1e-3)
MLP_TOLERANCE = 0.02
# XGBoost's: |sum(contributions) + bias - raw| <= XGB_TOLERANCE * max(1, |raw|) (float32)
XGB_TOLERANCE = 1e-5


@dataclass(frozen=True)
class Contributions:
    """One model's contributions for n rows: ``values[i, j]`` is feature ``features[j]``'s
    share of row i's ``raw`` answer; ``bias[i] + values[i].sum() == raw[i]`` (see the
    module docstring for each family's precision)."""

    family: str
    method: str  # tree_shap | integrated_gradients | rule
    scale: str  # what raw and bias are in: the target's units, log-odds, logit, probability
    features: tuple[str, ...]
    values: np.ndarray  # (n, F)
    bias: np.ndarray  # (n,)
    raw: np.ndarray  # (n,)
    explained_class: np.ndarray | None = None  # multiclass: the class index explained per row
    rules: list[str] | None = None  # baseline: the rule each row met, in words


def owners(cfg: ProjectConfig, extra: list[str] | None = None) -> np.ndarray:
    """A (columns, features) 0/1 matrix: which configured feature each matrix column comes
    from (one-hot levels and the hour's clock to their feature; ``extra``: the MLP's
    indicator columns, named ``<feature>_missing`` or ``<feature>=<missing>``)."""
    names = list(cfg.features)
    owner = [names.index(n) for n, s in cfg.features.items() for _ in feature_columns(n, s)]
    for col in extra or []:
        owner.append(names.index(col.split("=<missing>")[0].removesuffix("_missing")))
    g = np.zeros((len(owner), len(names)))
    g[np.arange(len(owner)), owner] = 1.0
    return g


def explain_model(
    model: Any,
    typed: Mapping[str, Any],
    cfg: ProjectConfig,
    classes: np.ndarray | None = None,
) -> Contributions:
    """Contributions of ``model`` (any family) for the rows of ``typed`` (feature name ->
    typed values, as the guard holds them). ``classes``: multiclass, the class index to
    explain per row (default: the model's most probable class)."""
    family = getattr(model, "family", "")
    if family == "xgboost":
        return _xgboost(model, typed, cfg, classes)
    if family == "torch_mlp":
        return _mlp(model, typed, cfg, classes)
    if family == "baseline":
        return _baseline(model, typed, cfg, classes)
    raise ValueError(
        f"no explanation for model family {family!r}: explain xgboost, torch_mlp or baseline"
    )


def _picked(scores: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    return scores.argmax(axis=1) if classes is None else np.asarray(classes, dtype=int)


def _xgboost(
    model: Any, typed: Mapping[str, Any], cfg: ProjectConfig, classes: np.ndarray | None
) -> Contributions:
    from shared.model.families.xgboost_model import xgboost_module

    xgb = xgboost_module()
    frame = pd.DataFrame(feature_matrix(typed, cfg), columns=list(feature_space(cfg).columns))
    d = xgb.DMatrix(frame)
    upto = (0, model.booster.best_iteration + 1)
    contribs = np.asarray(model.booster.predict(d, pred_contribs=True, iteration_range=upto))
    margin = np.asarray(model.booster.predict(d, output_margin=True, iteration_range=upto))
    picked = None
    if cfg.task == "multiclass":  # (n, K, F + 1) and (n, K): the explained class's row
        picked = _picked(margin, classes)
        rows = np.arange(len(picked))
        contribs, margin = contribs[rows, picked], margin[rows, picked]
    values = contribs[:, :-1].astype(float) @ owners(cfg)
    scale = _scale(cfg, "log-odds", "logit")
    return Contributions(
        "xgboost", "tree_shap", scale, tuple(cfg.features), values,
        contribs[:, -1].astype(float), margin.astype(float), picked,
    )  # fmt: skip


def _scale(cfg: ProjectConfig, binary: str, multiclass: str) -> str:
    if cfg.task == "binary":
        return binary
    if cfg.task == "multiclass":
        return multiclass
    return f"{cfg.target} units"


def _mlp(
    model: Any, typed: Mapping[str, Any], cfg: ProjectConfig, classes: np.ndarray | None
) -> Contributions:
    import torch

    x = feature_matrix(typed, cfg).astype(np.float32)
    if model.imputer is not None:
        x = model.imputer.apply(x)
    x = (x - np.asarray(model.norm["mean"], np.float32)) / np.asarray(model.norm["std"], np.float32)
    net = model.net
    dev = next(net.parameters()).device
    multiclass = cfg.task == "multiclass"
    scale = float(model.norm["y_std"][0]) if cfg.task == "regression" else 1.0
    shift = float(model.norm["y_mean"][0]) if cfg.task == "regression" else 0.0
    xt = torch.tensor(x, device=dev)
    with torch.no_grad():
        out = net(xt).float()
        base = net(torch.zeros(1, x.shape[1], device=dev)).float()
    picked = None
    if multiclass:
        picked = _picked(out.cpu().numpy(), classes)
        pick = torch.tensor(picked, device=dev)
        raw = out.gather(1, pick[:, None]).squeeze(1)
        bias = base[0, pick]
    else:
        raw, bias = out[:, 0], base[0, 0].expand(len(x))
    alphas = (torch.arange(MLP_STEPS, device=dev, dtype=torch.float32) + 0.5) / MLP_STEPS
    grads = torch.zeros_like(xt)
    chunk = max(1, 32768 // MLP_STEPS)  # rows per pass: MLP_STEPS path points each
    for start in range(0, len(x), chunk):
        part = xt[start : start + chunk]
        path = (alphas[:, None, None] * part[None]).reshape(-1, x.shape[1]).requires_grad_(True)
        o = net(path).float()
        if multiclass:
            idx = torch.tensor(picked[start : start + chunk], device=dev).repeat(MLP_STEPS)
            o = o.gather(1, idx[:, None])
        (g,) = torch.autograd.grad(o.sum(), path)
        grads[start : start + chunk] = g.reshape(MLP_STEPS, len(part), -1).mean(dim=0)
    attr = (xt * grads).detach().cpu().numpy().astype(float) * scale
    extra = model.imputer.extra if model.imputer is not None else None
    return Contributions(
        "torch_mlp",
        "integrated_gradients",
        _scale(cfg, "log-odds", "logit"),
        tuple(cfg.features),
        attr @ owners(cfg, extra),
        bias.detach().cpu().numpy().astype(float) * scale + shift,
        raw.detach().cpu().numpy().astype(float) * scale + shift,
        picked,
    )


def _baseline(
    model: Any, typed: Mapping[str, Any], cfg: ProjectConfig, classes: np.ndarray | None
) -> Contributions:
    """The rule's own terms (see the module docstring)."""
    rows = pd.DataFrame({k: typed[k] for k in cfg.features})
    n, names = len(rows), list(cfg.features)
    answer = np.asarray(model.predict(rows), dtype=float)
    values = np.zeros((n, len(names)))
    stats, rule = model.stats, model.rule
    picked = None
    if cfg.task == "multiclass":
        picked = _picked(answer, classes)
        answer = answer[np.arange(n), picked]
        bias = np.asarray(stats["shares"], dtype=float)[picked]
        stump = stats.get("stump") if rule == "stump" else None
        words = ["the training class shares"] * n
        if stump and stump["feature"]:
            values[:, names.index(stump["feature"])] = answer - bias
            words = _stump_words(stump, rows)
        return Contributions(
            "baseline", "rule", "probability", tuple(names), values, bias, answer, picked, words
        )
    if rule == "stump" and "stump" in stats:
        st = stats["stump"]
        bias = np.full(n, float(stats.get("mean", st["left"])))
        if st["feature"]:
            values[:, names.index(st["feature"])] = answer - bias
            words = _stump_words(st, rows)
        else:
            words = ["the training average"] * n
    elif rule == "eta":
        bias, words = _eta(model, rows, names, values)
    elif rule == "threshold":
        p = model.params
        bias = np.full(n, float(p.get("p_below", 0.2)))
        values[:, names.index(str(p["feature"]))] = answer - bias
        words = [f"{p['feature']} > {p.get('above', 0)}: {a:.3g}" for a in answer]
    else:  # mean / base_rate: a constant
        bias, words = answer.copy(), ["the training average"] * n
    scale = "probability" if cfg.task == "binary" else f"{cfg.target} units"
    return Contributions("baseline", "rule", scale, tuple(names), values, bias, answer, None, words)


def _eta(
    model: Any, rows: pd.DataFrame, names: list[str], values: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    from shared.model.families.baseline import _filled

    p = model.params
    if model.stats.get("fill"):
        rows = _filled(rows, model.stats["fill"])
    speed = float(p.get("speed_kmh", 17))
    terms = {
        "prep_minutes": (1.0, "prep minutes"),
        "distance_km": (60.0 / speed, f"distance at {speed:g} km/h"),
        "rain": (float(p.get("rain_minutes", 4)), "rain buffer"),
        "courier_load": (float(p.get("load_minutes_per_order", 0.6)), "courier load buffer"),
    }
    used = []
    for name, (factor, word) in terms.items():
        if name in rows:
            values[:, names.index(name)] = factor * rows[name].astype(float).to_numpy()
            used.append(word)
    handling = float(p.get("handling_minutes", 3))
    text = "eta rule: " + " + ".join([*used, f"{handling:g} handling minutes"])
    return np.full(len(rows), handling), [text] * len(rows)


def _stump_words(stump: dict[str, Any], rows: pd.DataFrame) -> list[str]:
    """The side of the stump each row fell on, in words."""
    name = stump["feature"]
    x = rows[name]
    gap = missing(x)
    if "right_values" in stump:
        right = x.astype(str).isin(stump["right_values"]).to_numpy()
        yes, no = f"{name} in {stump['right_values']}", f"{name} not in {stump['right_values']}"
    else:
        with np.errstate(invalid="ignore"):
            right = pd.to_numeric(x.where(~gap), errors="coerce").astype(float).to_numpy() > float(
                stump["threshold"]
            )
        yes, no = f"{name} > {stump['threshold']:.4g}", f"{name} <= {stump['threshold']:.4g}"
    if gap.any() and "missing" in stump:
        right = np.where(gap, stump["missing"] == "right", right)
    words = np.where(right, f"stump: {yes}", f"stump: {no}").astype(object)
    words[gap] = f"stump: {name} missing, sent {stump.get('missing', 'left')}"
    return words.tolist()
