"""Scoring batches for monitoring tests, made with the same library calls as the score flow."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from shared.data.generator import GeneratedBatch, generate_orders
from shared.pipeline.score import score as score_batch
from shared.release import promote, review


def release(t, version: str) -> None:
    review(t.ledger, t.roles, version, "kenji", "ok", "approve")
    review(t.ledger, t.roles, version, "yui", "ok", "approve")
    promote(t.ledger, t.roles, t.cfg, t.rules, version, "production", "sora", "test", "abc")


def score(
    t, tmp: Path, seed: int, drift: float = 0.0, rows: int = 3000
) -> tuple[GeneratedBatch, object]:
    """Score a generated batch (same period as training unless drifted) with production."""
    g = generate_orders(
        rows, seed=seed, drift=drift, start="2026-10-01", days=28, id_prefix=f"s{seed}"
    )
    src = tmp / f"score-{seed}.csv"
    g.orders.to_csv(src, index=False)
    batch = score_batch(t.ledger, t.cfg, f"ScoreFlow/t{seed}", "ren", str(src), 1000, keys=t.keys)
    return g, batch


def labels_frame(g: GeneratedBatch) -> pd.DataFrame:
    return g.labels[["order_id", "delivery_minutes"]].copy()
