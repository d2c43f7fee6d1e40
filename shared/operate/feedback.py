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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from shared.config import ProjectConfig, RolesConfig
from shared.data import storage
from shared.data.manifest import iter_frames
from shared.data.rawread import read_raw
from shared.data.validation import RawInputError
from shared.ledger import FeedbackBatchRecord, FeedbackEntry, FeedbackStatus, Ledger
from shared.operate.captured import read_capture

REQUEST_ID = "request_id"  # the labels' column naming an online answer's request


@dataclass(frozen=True)
class FeedbackOutcome:
    batch: FeedbackBatchRecord
    examples: dict[str, list[str]]  # status -> a few row ids

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
) -> FeedbackOutcome:
    """Match labels to scored rows by id within one scoring batch, give each a status,
    record all of them. ``scoring_batch``: the batch the labels were delivered for;
    without it, each id's newest scoring batch."""
    idc, target = cfg.id_column, cfg.target
    missing = [c for c in (idc, target) if c not in labels.columns]
    if missing:
        raise RawInputError(f"{source}: missing required column(s): {', '.join(missing)}")
    now = now or datetime.now(UTC)
    scored = scored_rows(ledger)
    if scoring_batch is not None:
        scored = scored[scored["scoring_batch_id"] == scoring_batch]
        if scored.empty:
            raise RawInputError(
                f"{source}: no scored rows in scoring batch {scoring_batch} "
                "(see the batches with: renkei monitoring, or the app's Operator page)"
            )
    scored = (
        scored.sort_values("scoring_batch_id", kind="stable")
        .drop_duplicates("row_id", keep="last")
        .set_index("row_id")
    )
    done = ledger.operations.labelled_rows()
    online_done = done[done["request_id"].notna()]
    done = done[done["request_id"].isna()]
    already = set(zip(done["scoring_batch_id"], done["row_id"], strict=True))
    already |= set(zip(online_done["request_id"], online_done["row_id"], strict=True))
    seen: set[tuple[int | str, str]] = set()
    online = _online(cfg) if scoring_batch is None else None
    requests = (
        labels[REQUEST_ID].astype("string").fillna("").tolist()
        if REQUEST_ID in labels.columns
        else [""] * len(labels)
    )
    lo, hi = cfg.target_range.min, cfg.target_range.max
    values = (
        pd.to_numeric(labels[target].astype("string"), errors="coerce")
        if cfg.task == "regression"
        else labels[target]
        .astype("string")
        .str.lower()
        .map({"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0})
    )
    late_after = timedelta(days=cfg.monitoring.late_feedback_days)
    entries: list[FeedbackEntry] = []
    for rid, req, value in zip(
        labels[idc].astype("string").fillna("").tolist(), requests, values.tolist(), strict=True
    ):
        status, batch_id = FeedbackStatus.ACCEPTED, None
        ok_value = value is not None and not pd.isna(value) and np.isfinite(value)
        ok_value = ok_value and (lo is None or value >= lo) and (hi is None or value <= hi)
        hit_online = (
            _online_answer(online, req, rid)
            if online is not None and (req or rid not in scored.index)
            else None
        )
        if (not rid and not req) or not ok_value:
            status = FeedbackStatus.INVALID
        elif hit_online is not None:
            req, rid = str(hit_online["request_id"]), str(hit_online["row_id"])
            if (req, rid) in already or (req, rid) in seen:
                status = FeedbackStatus.DUPLICATE
            else:
                if now - hit_online["received_at"].to_pydatetime() > late_after:
                    status = FeedbackStatus.LATE
                seen.add((req, rid))
        elif req:
            status = FeedbackStatus.UNKNOWN
        elif rid not in scored.index:
            status = FeedbackStatus.UNKNOWN
        elif (key := (int(scored.loc[rid, "scoring_batch_id"]), rid)) in already or key in seen:
            status, batch_id = FeedbackStatus.DUPLICATE, key[0]
        else:
            hit = scored.loc[rid]
            batch_id = int(hit["scoring_batch_id"])
            scored_at = (
                hit["scored_at"]
                if hit["scored_at"].tzinfo
                else hit["scored_at"].replace(tzinfo=UTC)
            )
            if now - scored_at > late_after:
                status = FeedbackStatus.LATE
            seen.add((batch_id, rid))
        kept = float(value) if ok_value else None
        online_req = req if hit_online is not None else None
        entries.append(FeedbackEntry(rid, kept, status, flagged, note, batch_id, online_req))
    batch = ledger.operations.record_feedback(source, entries, actor)
    examples: dict[str, list[str]] = {}
    for e in entries:
        if e.status != FeedbackStatus.ACCEPTED and len(examples.setdefault(e.status, [])) < 5:
            examples[e.status].append(e.row_id or "<empty id>")
    return FeedbackOutcome(batch, examples)


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
