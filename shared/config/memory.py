"""training.memory: how a training task holds its rows (issue 26)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import _Strict


class MemorySettings(_Strict):
    """How a training task holds its rows (issue 26). ``in_memory``: every labelled row in
    one frame (as before). ``external``: the time split written as parts and read part by
    part: XGBoost through external memory, the MLP through an iterable over the parts, and
    what cannot stream (the baseline rule, the envelope, the conformal calibration, the drift
    reference) on a seeded sample of at most ``sample_rows`` rows, recorded in the model's
    lineage. ``auto``: external above ``external_above_rows`` rows in the chosen datasets.
    ``batch_rows``: the most rows a task reads, fits on or scores at once in external mode
    (each part is read in batches of this many rows), so that what a task holds does not
    grow with the parts' sizes."""

    mode: Literal["auto", "in_memory", "external"] = "auto"
    external_above_rows: int = Field(2_000_000, gt=0)
    sample_rows: int = Field(200_000, ge=1000)
    batch_rows: int = Field(65_536, ge=100)
