"""Small helpers the flows share: clean failures and card content. Imports Metaflow."""

from __future__ import annotations

from typing import Any

from metaflow.exception import MetaflowException


class RenkeiFlowError(MetaflowException):
    """Ends a step with one clear message and no traceback."""

    headline = "Renkei"


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
