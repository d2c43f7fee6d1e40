"""The Guard page's what-if: one row typed into a form, answered by the production bundle's
guarded model as any scored row is. A feature the user leaves missing reaches the guard as
missing (None), so it decides as over HTTP: a nullable feature's gap goes to the model; any
other feature's is rejected, or falls back by a ``required`` rule, naming the feature.
:func:`what_if_explained` adds what drove the answer (shared.guard.explain)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from shared.config import ProjectConfig
from shared.guard import GuardedModel


def what_if(
    guarded: GuardedModel,
    cfg: ProjectConfig,
    values: Mapping[str, Any],
    missing: Collection[str] = (),
    at: pd.Timestamp | None = None,
) -> pd.Series:
    """The guarded answer (one row of :meth:`GuardedModel.predict`) for the features'
    ``values``; each feature named in ``missing`` is sent without a value. ``at``: the row's
    timestamp (now by default)."""
    return guarded.predict(_row(cfg, values, missing, at)).iloc[0]


def what_if_explained(
    guarded: GuardedModel,
    cfg: ProjectConfig,
    values: Mapping[str, Any],
    missing: Collection[str] = (),
    at: pd.Timestamp | None = None,
) -> tuple[pd.Series, dict[str, Any] | None]:
    """:func:`what_if`'s answer and its explanation (None: rejected)."""
    from shared.guard.explain import explain_frame

    row = _row(cfg, values, missing, at)
    answer = guarded.predict(row)
    return answer.iloc[0], explain_frame(guarded, row, answer)[0]


def _row(
    cfg: ProjectConfig,
    values: Mapping[str, Any],
    missing: Collection[str],
    at: pd.Timestamp | None,
) -> pd.DataFrame:
    unknown = sorted(set(missing) - set(cfg.features))
    if unknown:
        raise ValueError(f"what-if: {unknown} are not features of {cfg.name}: name its features")
    row: dict[str, Any] = {name: None if name in missing else values[name] for name in cfg.features}
    when = pd.Timestamp.now(tz="UTC") if at is None else at
    row[cfg.timestamp_column] = when.strftime("%Y-%m-%dT%H:%M:%S")
    return pd.DataFrame([row])
