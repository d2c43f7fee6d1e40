"""Monitor: champion vs shadow challenger on the labels that arrived.

Both answered the same rows (batch scoring and online traffic record the challenger's
guarded answer beside production's). On the rows both answered and whose label arrived,
the per-row error of each (absolute error for ``mae``/``p90_abs_error``, squared for
``rmse``, log loss for binary tasks) is compared pairwise: the mean difference
(challenger - champion; negative: the challenger errs less) with a paired bootstrap 95%
confidence interval. The challenger is ``better`` only when the whole interval is below
zero, ``worse`` when it is above, else ``no difference``; under
``monitoring.min_labelled_rows`` rows: ``not enough rows``. The same per slice
(``training.slices``), and each one's guard rate (share not answered by the model as is).

The comparison's records and the evidence as the app and `renkei approve` show it (the
newest comparison of a version, and the audit record that an approver saw it) are
shared.monitor.shadow_evidence; attaching and detaching a challenger is the release's
(shared.release.shadow).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import ProjectConfig
from shared.monitor.shadow_evidence import (  # the comparison's records
    Difference,
    ShadowComparison,
    ShadowVerdict,
)

BOOTSTRAP = 2000
CONFIDENCE = 0.95


def row_errors(cfg: ProjectConfig, y: np.ndarray, p: np.ndarray) -> tuple[str, np.ndarray]:
    """What one row's error is for the project's key metric, and the errors."""
    if cfg.task == "binary":
        q = np.clip(p, 1e-6, 1 - 1e-6)
        return "log loss", -(y * np.log(q) + (1 - y) * np.log(1 - q))
    if cfg.training.key_metric == "rmse":
        return "squared error", (y - p) ** 2
    return "absolute error", np.abs(y - p)


def difference(
    champion: np.ndarray, challenger: np.ndarray, min_rows: int, seed: int = 0
) -> Difference:
    """Paired bootstrap of the mean challenger-minus-champion error."""
    n = len(champion)
    if n < min_rows or n == 0:
        return Difference(n, None, None, None, None, None, ShadowVerdict.NOT_ENOUGH_ROWS)
    d = challenger - champion
    rng = np.random.default_rng(seed)
    means = np.empty(BOOTSTRAP)
    for b in range(0, BOOTSTRAP, 200):  # in blocks: bounded memory on large windows
        idx = rng.integers(0, n, size=(min(200, BOOTSTRAP - b), n))
        means[b : b + len(idx)] = d[idx].mean(axis=1)
    alpha = (1 - CONFIDENCE) / 2
    lo, hi = (float(x) for x in np.quantile(means, [alpha, 1 - alpha]))
    verdict = (
        ShadowVerdict.BETTER
        if hi < 0
        else ShadowVerdict.WORSE
        if lo > 0
        else ShadowVerdict.NO_DIFFERENCE
    )
    return Difference(
        n,
        float(champion.mean()),
        float(challenger.mean()),
        float(d.mean()),
        lo,
        hi,
        verdict,
    )


def compare(
    rows: pd.DataFrame, cfg: ProjectConfig, champion: str, challenger: str, seed: int = 0
) -> ShadowComparison:
    """Champion vs challenger on ``rows``: one row per answer both gave, with ``prediction``,
    ``decision``, ``shadow_prediction``, ``shadow_decision``, ``value`` (the label, NaN
    when none arrived), the slice features and ``source`` (batch | online)."""
    guard = {
        "champion": float((rows["decision"] != "model").mean()) if len(rows) else 0.0,
        "challenger": float((rows["shadow_decision"] != "model").mean()) if len(rows) else 0.0,
    }
    both = rows[
        rows["value"].notna() & rows["prediction"].notna() & rows["shadow_prediction"].notna()
    ]
    y = both["value"].to_numpy(float)
    if cfg.task == "multiclass":  # the error of a class: wrong (1) or right (0)
        names = np.asarray(cfg.classes or [], dtype=object)[y.astype(int)]
        what = "misclassification"
        e_champ = (both["predicted_class"].astype(str).to_numpy() != names).astype(float)
        e_chall = (both["shadow_predicted_class"].astype(str).to_numpy() != names).astype(float)
    else:
        what, e_champ = row_errors(cfg, y, both["prediction"].to_numpy(float))
        _, e_chall = row_errors(cfg, y, both["shadow_prediction"].to_numpy(float))
    min_rows = cfg.monitoring.min_labelled_rows
    slices: dict[str, Difference] = {}
    for name in cfg.training.slices:
        if name not in both:
            continue
        values = both[name].astype(str).to_numpy()
        for v in sorted(set(values)):
            mask = values == v
            slices[f"{name}={v}"] = difference(e_champ[mask], e_chall[mask], min_rows, seed)
    sources = both["source"].value_counts().to_dict() if "source" in both else {}
    return ShadowComparison(
        champion,
        challenger,
        what,
        difference(e_champ, e_chall, min_rows, seed),
        slices,
        guard,
        len(rows),
        {str(k): int(v) for k, v in sources.items()},
    )


def challenger_rows(out: pd.DataFrame, labels: pd.DataFrame) -> tuple[str, pd.DataFrame] | None:
    """The newest challenger's rows of the window's answers ``out`` (batch and online,
    keyed by ``scoring_batch_id`` and ``row_id``) with the arrived label as ``value``;
    None when no challenger answered in the window."""
    if "shadow_version" not in out or out["shadow_version"].isna().all():
        return None
    version = str(out["shadow_version"].dropna().iloc[-1])
    rows = out[out["shadow_version"] == version]
    first = labels.drop_duplicates(["scoring_batch_id", "row_id"], keep="first")
    rows = rows.merge(
        first[["scoring_batch_id", "row_id", "value"]],
        on=["scoring_batch_id", "row_id"],
        how="left",
    )
    return version, rows


def shadow_check(c: ShadowComparison) -> dict[str, Any]:
    """The comparison as a monitoring check (never an alert) with its evidence."""
    o = c.overall
    return {
        "name": f"shadow:{c.challenger}",
        "kind": "shadow",
        "value": o.difference,
        "threshold": 0.0,
        "verdict": "not enough rows" if o.difference is None else "ok",
        "detail": c.summary(),
        "evidence": c.as_dict(),
    }


class SliceRow(pa.DataFrameModel):
    slice: Series[str]
    rows: Series[int]
    champion: Series[float] = pa.Field(nullable=True)
    challenger: Series[float] = pa.Field(nullable=True)
    difference: Series[float] = pa.Field(nullable=True)
    ci_low: Series[float] = pa.Field(nullable=True)
    ci_high: Series[float] = pa.Field(nullable=True)
    verdict: Series[str]
