"""Plain-text tables of model versions, shared by the train flow and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.config import HIGHER_IS_BETTER


def text_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(out)


def vs_baseline(value: float, base: float | None, higher_is_better: bool) -> str:
    if base is None or base == 0:
        return "-"
    change = (value - base) / abs(base)
    better = change > 0 if higher_is_better else change < 0
    return f"{change:+.1%} ({'better' if better else 'worse'})" if change else "same"


def comparison_table(models: Sequence[Any]) -> str:
    """One line per model version: family, status, metrics, vs baseline, failing gates."""
    if not models:
        return "No model versions yet. Train one: python flows/train_flow.py run"
    metric_names = list(models[0].metrics)
    rows = []
    for m in models:
        km = m.key_metric
        rows.append(
            [
                getattr(m, "version", "-"),
                m.family,
                m.status,
                *(f"{m.metrics.get(k, float('nan')):.4g}" for k in metric_names),
                vs_baseline(m.metrics[km], m.baseline_metrics.get(km), km in HIGHER_IS_BETTER)
                if m.family != "baseline"
                else "(reference)",
                ", ".join(m.failing_gates) or "-",
            ]
        )
    return text_table(
        rows,
        ["version", "family", "status", *metric_names, "key metric vs baseline", "failed gates"],
    )
