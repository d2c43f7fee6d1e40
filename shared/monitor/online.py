"""Monitor: captured online traffic (shared.operate.capture) beside the scoring batches.

The monitor flow's window holds the newest scoring batches of the production model and
the online answers that model gave since the oldest of them (all of them when no batch
was scored). Online answers are keyed like batch rows: scoring batch ``ONLINE`` (-1) and
row id ``<request_id>/<row_id>``, and so are the labels joined to them by request id.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from shared.config import ProjectConfig
from shared.operate.captured import read_capture

ONLINE = -1  # the scoring_batch_id of online answers in the monitor's window


def online_window(
    cfg: ProjectConfig, alias: str, version: str, since: datetime | None
) -> pd.DataFrame:
    """Captured answers of ``version`` behind ``alias`` received at or after ``since``."""
    rows = read_capture(cfg.storage.data_root, alias)
    if rows.empty:
        return rows
    rows = rows[rows["model_version"] == version]
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=UTC)
        rows = rows[rows["received_at"] >= pd.Timestamp(since)]
    return rows.reset_index(drop=True)


def _key(request_id: pd.Series, row_id: pd.Series) -> pd.Series:
    return request_id.astype(str) + "/" + row_id.astype(str)


def online_outputs(online: pd.DataFrame) -> pd.DataFrame:
    """Online answers shaped like a scoring batch's output (and keyed for the labels)."""
    out = online.drop(columns=["row_id"]).assign(
        row_id=_key(online["request_id"], online["row_id"]),
        scoring_batch_id=ONLINE,
        source="online",
    )
    return out


def keyed_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Labels with those of online answers keyed as :func:`online_outputs` keys them."""
    if "request_id" not in labels or labels["request_id"].isna().all():
        return labels
    labels = labels.copy()
    online = labels["request_id"].notna()
    labels.loc[online, "row_id"] = _key(
        labels.loc[online, "request_id"], labels.loc[online, "row_id"]
    )
    labels.loc[online, "scoring_batch_id"] = ONLINE
    return labels
