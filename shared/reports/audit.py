"""The audit chain as a frame, and its filter."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.ledger import Ledger


class AuditRow(pa.DataFrameModel):
    id: Series[int]
    ts: Series[str]
    actor: Series[str]
    action: Series[str]
    subject: Series[str]
    details: Series[str]


def audit_frame(ledger: Ledger) -> pd.DataFrame:
    rows = [
        {
            "id": e.id,
            "ts": e.ts,
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "details": e.details,
        }
        for e in ledger.audit.entries()
    ]
    return AuditRow.validate(
        pd.DataFrame(rows, columns=list(AuditRow.to_schema().columns)).astype(
            {"id": int, "ts": str, "actor": str, "action": str, "subject": str, "details": str}
        )
    )


def filter_audit(frame: pd.DataFrame, actors: list[str], actions: list[str]) -> pd.DataFrame:
    """Audit rows by the chosen actors and actions (an empty choice keeps all)."""
    keep = pd.Series(True, index=frame.index)
    if actors:
        keep &= frame["actor"].isin(actors)
    if actions:
        keep &= frame["action"].isin(actions)
    return frame[keep]
