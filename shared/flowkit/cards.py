"""Card content of the ingest, training and monitoring runs."""

from __future__ import annotations

from typing import Any


def ingest_card(outcome: Any) -> list[Any]:
    """Card components summarising one ingest: counts, verdict and reasons by check."""
    from metaflow.cards import Markdown, Table

    verdict = "passed" if outcome.passed else "FAILED"
    parts: list[Any] = [
        Markdown(f"# Ingest `{outcome.dataset_version}`: validation {verdict}"),
        Markdown(
            f"**Source** `{outcome.raw.source}` (sha256 `{outcome.raw.sha256[:12]}`, "
            f"{outcome.raw.size:,} bytes, kept at `{outcome.raw.uri}`)"
        ),
        Table(
            [
                ["rows in", f"{outcome.rows_in:,}"],
                ["valid", f"{outcome.rows_valid:,}"],
                ["quarantined", f"{outcome.rows_quarantined:,}"],
                ["valid fraction", f"{outcome.valid_fraction:.2%}"],
                ["minimum valid fraction", f"{outcome.min_valid_fraction:.2%}"],
            ],
            headers=["", "value"],
        ),
        Markdown("## Quarantine reasons by check"),
    ]
    if outcome.check_counts:
        parts.append(
            Table(
                [[c.column, c.check, f"{c.rows:,}"] for c in outcome.check_counts],
                headers=["column", "check", "rows"],
            )
        )
    else:
        parts.append(Markdown("No row was quarantined."))
    return parts


def training_card(candidates: list[Any], comparison: Any, cfg: Any) -> list[Any]:
    """Card components for a training run: metric chart by family and slice, gate table."""
    from metaflow.cards import Markdown, Table, VegaChart

    m = cfg.training.key_metric
    parts: list[Any] = [Markdown(f"# Training: {m} on the holdout, by family and slice")]
    parts.append(
        VegaChart(
            {
                "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
                "data": {"values": comparison.to_dict(orient="records")},
                "mark": "bar",
                "encoding": {
                    "x": {"field": "family", "type": "nominal", "title": None},
                    "y": {"field": "value", "type": "quantitative", "title": m},
                    "color": {"field": "family", "type": "nominal"},
                    "column": {"field": "slice", "type": "nominal", "title": "slice"},
                },
                "width": 60,
            }
        )
    )
    parts.append(Markdown("## Gates"))
    rows = []
    for c in candidates:
        for g in c.gates:
            rows.append([c.family, g.name, "pass" if g.passed else "FAIL", g.detail])
    parts.append(
        Table(rows or [["-", "-", "-", "no gates"]], headers=["family", "gate", "result", "detail"])
    )
    parts.append(
        Table(
            [[c.family, c.status, *(f"{v:.4g}" for v in c.metrics.values())] for c in candidates],
            headers=["family", "status", *candidates[0].metrics.keys()],
        )
    )
    return parts


def monitoring_card(result: Any, report: Any) -> list[Any]:
    """Card components for a monitoring run: each check, its value, threshold and verdict."""
    from metaflow.cards import Markdown, Table

    head = "RETRAIN" if report.retrain else "no retraining needed"
    parts: list[Any] = [
        Markdown(f"# Monitoring {result.version}: {head}"),
        Markdown(
            f"Batches {result.batches}, {result.rows:,} rows "
            f"({getattr(result, 'online_rows', 0):,} online answers), label coverage "
            f"{result.label_coverage:.0%}"
        ),
        Table(
            [
                [
                    c.name,
                    c.verdict,
                    "-" if c.value is None else f"{c.value:.3f}",
                    f"{c.threshold:g}",
                    c.detail,
                ]
                for c in result.checks
            ],
            headers=["check", "verdict", "value", "threshold", "detail"],
        ),
    ]
    if getattr(result, "shadow", None) is not None:
        parts.append(Markdown(f"**Shadow challenger:** {result.shadow.summary()}"))
    if report.reasons:
        parts.append(Markdown("**Why retrain:** " + "; ".join(report.reasons)))
    return parts
