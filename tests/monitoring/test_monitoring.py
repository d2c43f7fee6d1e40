"""Feedback edge cases; the retrain trigger fires on drift and not without it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from shared.monitor.monitoring import MonitoringError, monitor, record
from shared.operate.feedback import apply_feedback
from tests.builders import build
from tests.monitoring.helpers import labels_frame, release, score


@pytest.fixture
def live(tmp_path: Path):
    t = build(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}", runs=1, rows=6000)
    release(t, t.candidates[0])
    return t


def test_feedback_edge_cases_are_all_kept_and_reported(live, tmp_path: Path) -> None:
    t = live
    g, batch = score(t, tmp_path, seed=31, rows=500)
    lab = labels_frame(g)
    extra = pd.DataFrame(
        {
            "order_id": [lab.iloc[0, 0], "nobody-knows-me", lab.iloc[1, 0], lab.iloc[2, 0], ""],
            "delivery_minutes": [99.0, 20.0, -5.0, "abc", 30.0],
        }
    )
    sent = pd.concat([lab.iloc[:100], extra], ignore_index=True)
    out = apply_feedback(t.ledger, t.cfg, sent, "file-1", "ren", keys=t.keys)
    b = out.batch
    assert b.rows == 105 == b.accepted + b.late + b.duplicates + b.unknown + b.invalid
    # row 0 again in the same file: duplicate; rows 1 and 2: already labelled -> duplicate,
    # though their values (-5, "abc") are invalid: invalid wins; "" is invalid too
    assert (b.accepted, b.duplicates, b.unknown, b.invalid) == (
        100 - _missing_ids(g, 100),
        1,
        1 + _missing_ids(g, 100),
        3,
    )
    assert "nobody-knows-me" in out.examples["unknown"]
    assert "<empty id>" in out.examples["invalid"]
    # the first label stands: a second delivery of the same file is all duplicates
    again = apply_feedback(t.ledger, t.cfg, lab.iloc[:100], "file-2", "ren", keys=t.keys).batch
    assert again.accepted == 0 and again.duplicates == 100 - _missing_ids(g, 100)
    labelled = t.ledger.operations.labelled_rows()
    assert len(labelled) == b.accepted and labelled["value"].ge(1).all()
    # late: labels arriving long after scoring are kept and counted as late
    late = apply_feedback(
        t.ledger,
        t.cfg,
        lab.iloc[200:210],
        "file-3",
        "ren",
        now=batch.created_at + timedelta(days=t.cfg.monitoring.late_feedback_days + 1),
        keys=t.keys,
    ).batch
    assert late.late == 10 - _missing_ids(g, 210, 200) and late.accepted == 0
    assert len(t.ledger.operations.labelled_rows()) == b.accepted + late.late


def _missing_ids(g, stop: int, start: int = 0) -> int:
    """Rows whose id the generator blanked (their label matches no scored row)."""
    rows = set(g.bad_rows.loc[g.bad_rows["kind"] == "missing_id", "row"])
    return len([r for r in range(start, stop) if r in rows])


def test_retrain_fires_on_drift_and_not_without(live, tmp_path: Path) -> None:
    t = live
    with pytest.raises(MonitoringError, match="no scoring batch"):
        monitor(t.ledger, t.cfg)
    score(t, tmp_path, seed=41)
    calm = monitor(t.ledger, t.cfg, window=1)
    assert calm.drifted_features == [], [c.detail for c in calm.checks if c.verdict == "alert"]
    assert calm.retrain_reasons(t.cfg) == []
    rec = record(t.ledger, t.cfg, calm, None, "sora")
    assert rec.retrain is False
    g, _ = score(t, tmp_path, seed=42, drift=1.0)
    drifted = monitor(t.ledger, t.cfg, window=1)
    assert {"distance_km", "rain", "courier_load"} <= set(drifted.drifted_features)
    reasons = drifted.retrain_reasons(t.cfg)
    assert reasons and "data drift" in reasons[0]
    rec = record(t.ledger, t.cfg, drifted, None, "sora")
    assert rec.retrain and t.ledger.monitoring.reports()[-1].reasons == reasons
    # with the labels in, performance on the drifted world is measured (and decays)
    apply_feedback(t.ledger, t.cfg, labels_frame(g), "labels", "ren", keys=t.keys)
    with_labels = monitor(t.ledger, t.cfg, window=1)
    perf = next(c for c in with_labels.checks if c.name == "performance")
    assert perf.verdict in ("ok", "alert") and with_labels.label_coverage > 0.9


def test_a_missing_scoring_file_is_a_clear_monitoring_error(live, tmp_path: Path) -> None:
    _, batch = score(live, tmp_path, seed=61, rows=300)
    (Path(batch.output_uri) / "part-00000.parquet").unlink()  # a part of the output is gone
    with pytest.raises(
        MonitoringError, match=f"scoring batch {batch.id}: a file the ledger points at is gone"
    ):
        monitor(live.ledger, live.cfg, window=1)
