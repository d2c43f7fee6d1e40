"""Operate -> Monitor: delayed labels joined to the predictions they judge, by row id
within the scoring batch they were delivered for (ids are unique per batch, not across
batches: a label counts for one scored row only), or to an online answer the service
captured (shared.operate.capture): by its ``request_id`` (a column of the labels; with the
row id when a request held several rows), or by row id when no scoring batch has that id.

Every label that arrives is kept with a status: ``accepted``; ``late`` (arrived more than
``monitoring.late_feedback_days`` after scoring: kept and used, but counted); ``duplicate``
(the row already has a label: the first one stands); ``unknown`` (no scored row has that
id); ``invalid`` (not a number in the target's range). Nothing is silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shared.config import ProjectConfig, RolesConfig
from shared.data import storage
from shared.data.manifest import iter_frames
from shared.data.rawread import read_raw
from shared.data.validation import RawInputError
from shared.guard.bundle_sign import ReleaseKeys
from shared.ledger import FeedbackBatchRecord, FeedbackEntry, FeedbackStatus, Ledger
from shared.ledger.intervals import IntervalUpdateRecord
from shared.operate.captured import read_capture

REQUEST_ID = "request_id"  # the labels' column naming an online answer's request


@dataclass(frozen=True)
class FeedbackOutcome:
    batch: FeedbackBatchRecord
    examples: dict[str, list[str]]  # status -> a few row ids
    # the aliases' adaptive interval updates these labels made (shared.operate.adapt)
    intervals: tuple[IntervalUpdateRecord, ...] = ()

    @property
    def status(self) -> str:
        """The status of a single-label delivery (the app's operator form)."""
        b = self.batch
        counts = {
            "accepted": b.accepted,
            "late": b.late,
            "duplicate": b.duplicates,
            "unknown": b.unknown,
            "invalid": b.invalid,
        }
        return max(counts, key=lambda k: counts[k])


FEEDBACK_ROLES = ("ML Operator", "Operator")


def can_give_feedback(roles: RolesConfig, user: str) -> bool:
    """Operators work from the predictions and give feedback on them (SEED_NOTES roles)."""
    return bool(set(roles.roles_of(user)).intersection(FEEDBACK_ROLES))


def scored_rows(ledger: Ledger) -> pd.DataFrame:
    """Every scored row: row_id, scoring batch, when it was scored, prediction, decision
    (one row per scoring batch and id)."""
    frames = []
    for b in ledger.operations.scoring_batches():
        try:  # part by part, three columns each
            parts = list(iter_frames(b.output_uri, ["row_id", "prediction", "decision"]))
        except FileNotFoundError:
            continue
        frames += [p.assign(scoring_batch_id=b.id, scored_at=b.created_at) for p in parts]
    if not frames:
        return pd.DataFrame(
            columns=["row_id", "prediction", "decision", "scoring_batch_id", "scored_at"]
        )
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["row_id"] != ""]
    return rows.drop_duplicates(["scoring_batch_id", "row_id"], keep="last")


def read_labels(path: str) -> pd.DataFrame:
    """A feedback file (CSV or Parquet); file-level problems raise RawInputError."""
    from shared.data.ingest import _format_of

    fmt = _format_of(path)
    try:
        data = storage.read_bytes(path)
    except FileNotFoundError:
        raise RawInputError(f"{path}: file not found") from None
    if not data.strip():
        raise RawInputError(f"{path}: file is empty")
    return read_raw(data, path, fmt)


def apply_feedback(
    ledger: Ledger,
    cfg: ProjectConfig,
    labels: pd.DataFrame,
    source: str,
    actor: str,
    now: datetime | None = None,
    flagged: bool = False,
    note: str = "",
    scoring_batch: int | None = None,
    *,
    keys: ReleaseKeys,
) -> FeedbackOutcome:
    """Match labels to scored rows by id within one scoring batch, give each a status,
    record all of them (and move each alias's interval quantile: its bundle verified with
    the release ``keys``, as every load is). ``scoring_batch``: the batch the labels were delivered for;
    without it, each id's newest scoring batch (or an online answer, see the module)."""
    idc, target = cfg.id_column, cfg.target
    missing = [c for c in (idc, target) if c not in labels.columns]
    if missing:
        raise RawInputError(f"{source}: missing required column(s): {', '.join(missing)}")
    match = _Matching(
        scored=_scored(ledger, scoring_batch, source),
        online=_online(cfg) if scoring_batch is None else None,
        labelled=_labelled(ledger),
        now=now or datetime.now(UTC),
        late_after=timedelta(days=cfg.monitoring.late_feedback_days),
    )
    requests = (
        labels[REQUEST_ID].astype("string").fillna("").tolist()
        if REQUEST_ID in labels.columns
        else [""] * len(labels)
    )
    entries: list[FeedbackEntry] = []
    for rid, req, value in zip(
        labels[idc].astype("string").fillna("").tolist(),
        requests,
        _label_values(labels[target], cfg).tolist(),
        strict=True,
    ):
        ok_value = _in_range(value, cfg)
        hit_online = match.online_answer(req, rid)
        batch_id: int | None = None
        if (not rid and not req) or not ok_value:
            status = FeedbackStatus.INVALID
        elif hit_online is not None:
            req, rid = str(hit_online["request_id"]), str(hit_online["row_id"])
            status = match.online_status(req, rid, hit_online["received_at"].to_pydatetime())
        elif req:
            status = FeedbackStatus.UNKNOWN
        else:
            status, batch_id = match.batch_status(rid)
        kept = float(value) if ok_value else None
        online_req = req if hit_online is not None else None
        entries.append(FeedbackEntry(rid, kept, status, flagged, note, batch_id, online_req))
    batch = ledger.operations.record_feedback(source, entries, actor)
    from shared.operate.adapt import adapt_after_feedback

    updates = adapt_after_feedback(
        ledger, cfg, entries, batch.id, actor, keys
    )  # interval quantiles
    examples: dict[str, list[str]] = {}
    for e in entries:
        if e.status != FeedbackStatus.ACCEPTED and len(examples.setdefault(e.status, [])) < 5:
            examples[e.status].append(e.row_id or "<empty id>")
    return FeedbackOutcome(batch, examples, tuple(updates))


@dataclass
class _Matching:
    """What one feedback batch is matched against: the scored rows (batch), the captured
    answers (online; None when the labels name a scoring batch), what is already labelled
    (and, as the labels are read, what this batch labelled)."""

    scored: pd.DataFrame  # indexed by row id: each id's newest scoring batch
    online: pd.DataFrame | None
    labelled: set[tuple[int | str, str]]  # (scoring batch id or request id, row id)
    now: datetime
    late_after: timedelta
    seen: set[tuple[int | str, str]] = field(default_factory=set)

    def online_answer(self, req: str, rid: str) -> pd.Series | None:
        """The captured answer a label names, when it names one (a request id, or a row id
        no scoring batch holds)."""
        if self.online is None or not (req or rid not in self.scored.index):
            return None
        return _online_answer(self.online, req, rid)

    def online_status(self, req: str, rid: str, received_at: datetime) -> FeedbackStatus:
        """Online: a label for the answer ``req``/``rid`` captured at ``received_at``."""
        if (req, rid) in self.labelled or (req, rid) in self.seen:
            return FeedbackStatus.DUPLICATE
        self.seen.add((req, rid))
        if self.now - received_at > self.late_after:
            return FeedbackStatus.LATE
        return FeedbackStatus.ACCEPTED

    def batch_status(self, rid: str) -> tuple[FeedbackStatus, int | None]:
        """Batch: a label for row ``rid`` of its newest scoring batch, and that batch."""
        if rid not in self.scored.index:
            return FeedbackStatus.UNKNOWN, None
        hit = self.scored.loc[rid]
        key = (int(hit["scoring_batch_id"]), rid)
        if key in self.labelled or key in self.seen:
            return FeedbackStatus.DUPLICATE, key[0]
        self.seen.add(key)
        scored_at = hit["scored_at"]
        scored_at = scored_at if scored_at.tzinfo else scored_at.replace(tzinfo=UTC)
        if self.now - scored_at > self.late_after:
            return FeedbackStatus.LATE, key[0]
        return FeedbackStatus.ACCEPTED, key[0]


def _scored(ledger: Ledger, scoring_batch: int | None, source: str) -> pd.DataFrame:
    """The scored rows labels may judge, by row id: the named batch's, or each id's newest."""
    scored = scored_rows(ledger)
    if scoring_batch is not None:
        scored = scored[scored["scoring_batch_id"] == scoring_batch]
        if scored.empty:
            raise RawInputError(
                f"{source}: no scored rows in scoring batch {scoring_batch} "
                "(see the batches with: renkei monitoring, or the app's Operator page)"
            )
    return (
        scored.sort_values("scoring_batch_id", kind="stable")
        .drop_duplicates("row_id", keep="last")
        .set_index("row_id")
    )


def _labelled(ledger: Ledger) -> set[tuple[int | str, str]]:
    """What already has a label: (scoring batch id, row id) and (request id, row id)."""
    done = ledger.operations.labelled_rows()
    online = done[done["request_id"].notna()]
    batch = done[done["request_id"].isna()]
    found: set[tuple[int | str, str]] = set(
        zip(batch["scoring_batch_id"], batch["row_id"], strict=True)
    )
    return found | set(zip(online["request_id"], online["row_id"], strict=True))


def _label_values(column: pd.Series, cfg: ProjectConfig) -> pd.Series:
    """The labels as numbers (binary: true/1 and false/0; multiclass: the class's index in
    ``classes``); anything else NaN."""
    if cfg.task == "multiclass":
        from shared.model.multiclass import class_index

        return pd.Series(class_index(column, cfg.classes or []), index=column.index)
    if cfg.task == "regression":
        return pd.to_numeric(column.astype("string"), errors="coerce")
    return column.astype("string").str.lower().map({"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0})


def _in_range(value: object, cfg: ProjectConfig) -> bool:
    """A finite number within the target's range."""
    if value is None or pd.isna(value) or not np.isfinite(value):  # type: ignore[arg-type]
        return False
    lo, hi = cfg.target_range.min, cfg.target_range.max
    return (lo is None or value >= lo) and (hi is None or value <= hi)  # type: ignore[operator]


def _online(cfg: ProjectConfig) -> pd.DataFrame:
    """Captured online answers (request id, row id, when), newest last."""
    rows = read_capture(cfg.storage.data_root)
    return rows[["request_id", "row_id", "received_at"]].reset_index(drop=True)


def _online_answer(online: pd.DataFrame, request_id: str, row_id: str) -> pd.Series | None:
    """The online answer a label names: by request id (and row id when the request held
    several rows), or the newest answer with that row id; None when there is none."""
    if online.empty:
        return None
    if request_id:
        hit = online[online["request_id"] == request_id]
        if row_id and len(hit) > 1:
            hit = hit[hit["row_id"] == row_id]
        return hit.iloc[-1] if len(hit) == 1 else None
    hit = online[online["row_id"] == row_id]
    return hit.iloc[-1] if len(hit) else None
