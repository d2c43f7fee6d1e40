"""The ingest flow's steps: land a raw batch, validate its partitions, publish and record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from shared.config import ProjectConfig
from shared.data import storage
from shared.data.ingest import IngestOutcome, LandedRaw, generate_raw, generator_settings, land_raw
from shared.data.partitions import Partition, plan_batch
from shared.data.partvalidate import PartOutcome, finish_ingest, validate_batch, validate_part

if TYPE_CHECKING:  # the ledger (SQLAlchemy) is imported only where a step opens it
    import pandas as pd

    from shared.ledger import IngestRecord, Ledger

__all__ = ["Landing", "Published", "ingest", "land", "publish", "record", "validate_part"]


@dataclass
class Landing:
    """A raw batch landed byte for byte, its partitions (no rows loaded) and, for a generated
    batch, where its delayed labels are."""

    raw: LandedRaw
    parts: list[Partition]
    labels_uri: str | None


@dataclass
class Published:
    """The dataset version and quarantine, their reasons, and the ledger's record of them."""

    outcome: IngestOutcome
    reasons: pd.DataFrame
    record: IngestRecord

    def failure(self) -> str:
        """Why the run fails (under the minimum valid fraction, after recording), or ''."""
        o = self.outcome
        if o.passed:
            return ""
        return (
            f"{o.raw.source}: only {o.valid_fraction:.1%} of {o.rows_in:,} rows are valid, "
            f"under the minimum {o.min_valid_fraction:.1%}; report and quarantine recorded "
            f"(renkei quarantine {o.dataset_version})"
        )

    def summary(self, ledger_url: str) -> str:
        """What the run says at its end: the counts and where each half and the raw copy are."""
        o = self.outcome
        new = "new version" if self.record.dataset_created else "same data as an existing version"
        return (
            f"dataset {o.dataset_version}: {o.rows_in:,} rows in, {o.rows_valid:,} valid, "
            f"{o.rows_quarantined:,} quarantined ({new})\n"
            f"  dataset    {o.dataset_uri}\n  quarantine {o.quarantine_uri}\n"
            f"  raw copy   {o.raw.uri}\n  ledger     {ledger_url}"
        )


def land(
    cfg: ProjectConfig,
    source: str = "",
    rows: int = 0,
    seed: int = -1,
    bad_fraction: float = -1.0,
    drift: float = 0.0,
) -> Landing:
    """Land ``source`` (empty: a generated batch; 0 or negative generator settings: the
    project's) and plan its partitions of storage.partition_rows input rows."""
    root, labels = cfg.storage.data_root, None
    if not source:
        g = generator_settings(cfg)
        source, labels = generate_raw(
            cfg,
            root,
            rows or g.rows,
            g.seed if seed < 0 else seed,
            g.bad_fraction if bad_fraction < 0 else bad_fraction,
            drift,
        )
    raw = land_raw(source, root)
    return Landing(raw, plan_batch(raw, cfg.storage.partition_rows), labels)


def publish(
    ledger: Ledger,
    cfg: ProjectConfig,
    landing: Landing,
    results: list[PartOutcome],
    staging: str,
    actor: str,
    flow_run: str | None,
    between: Callable[[], None] | None = None,
) -> Published:
    """Quarantine ids repeated across partitions, version and publish the dataset, record
    it, then drop the staged parts (the ingest flow's join)."""
    outcome, reasons = finish_ingest(
        landing.raw, landing.parts, results, cfg, cfg.storage.data_root, staging
    )
    published = record(ledger, landing, outcome, reasons, actor, flow_run, between)
    storage.remove_prefix(staging)
    return published


def record(
    ledger: Ledger,
    landing: Landing,
    outcome: IngestOutcome,
    reasons: pd.DataFrame,
    actor: str,
    flow_run: str | None,
    between: Callable[[], None] | None = None,
) -> Published:
    """Record the dataset version, its report and quarantine (rows in = valid +
    quarantined) and, for a generated batch, its labels. ``between``: called between the
    two records (the flow's fault point for the reliability tests)."""
    rec = ledger.datasets.record_ingest(outcome, reasons, actor, flow_run)
    if between is not None:
        between()
    if landing.labels_uri:  # the generator also delivers the true times (delayed labels)
        ledger.datasets.record_labels(
            landing.labels_uri, outcome.rows_in, "generator", actor, outcome.dataset_version
        )
    return Published(outcome, reasons, rec)


def ingest(
    ledger: Ledger,
    cfg: ProjectConfig,
    actor: str,
    flow_run: str | None,
    source: str = "",
    rows: int = 0,
    seed: int = -1,
    bad_fraction: float = -1.0,
    drift: float = 0.0,
    now: datetime | None = None,
) -> Published:
    """The ingest flow's steps in this process (library callers, tests' builders)."""
    landing = land(cfg, source, rows, seed, bad_fraction, drift)
    outcome, split = validate_batch(landing.raw, cfg, cfg.storage.data_root, now)
    return record(ledger, landing, outcome, split.reasons, actor, flow_run)
