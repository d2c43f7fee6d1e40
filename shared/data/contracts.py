"""Pandera data contracts built from the project config.

The feature spec in config/project.yaml is the one source of truth: :func:`build_contracts`
turns it into two ``DataFrameModel`` classes,

* ``RawOrders`` (named ``Raw<Project>``): what a raw row must satisfy to be accepted; rows
  failing it are quarantined with a reason per failed check;
* ``ValidatedOrders`` (``Validated<Project>``): the stored dataset: typed, non-null, ids
  unique, exactly the configured columns.

So a team switching to its own data edits config, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from shared.config import FeatureSpec, ProjectConfig

SCHEMA_VERSION = "1"

# pandas dtype each config type is stored as, once validated
_DTYPES: dict[str, Any] = {
    "float": float,
    "int": int,
    "bool": bool,
    "category": str,
    "str": str,
    "timestamp": pd.Timestamp,
}

# a nullable feature's stored dtype where the plain one holds no missing value
_NULLABLE_DTYPES: dict[str, Any] = {"int": pd.Int64Dtype(), "bool": pd.BooleanDtype()}


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the contract: its config type and domain."""

    name: str
    type: str
    min: float | None = None
    max: float | None = None
    values: tuple[str, ...] | None = None
    required: bool = True
    unique: bool = False
    nullable: bool = False  # a feature declared ``nullable: true``: the column is still
    # expected, a value may be missing (stored as NaN / <NA>)


@dataclass(frozen=True)
class Contracts:
    """The raw and validated models of one project, and the column specs behind them."""

    raw: type[pa.DataFrameModel]
    validated: type[pa.DataFrameModel]
    columns: tuple[ColumnSpec, ...]
    now: datetime

    @cached_property
    def raw_schema(self) -> pa.DataFrameSchema:
        """The raw model as a schema (built once: Pandera rebuilds it on every call)."""
        return self.raw.to_schema()


def column_specs(cfg: ProjectConfig) -> tuple[ColumnSpec, ...]:
    """Column specs in file order: id, timestamp, features, then the optional target."""

    def from_feature(name: str, f: FeatureSpec) -> ColumnSpec:
        values = tuple(f.values) if f.values else None
        return ColumnSpec(name, f.type, f.min, f.max, values, nullable=f.nullable)

    target_type = "float" if cfg.task == "regression" else "bool"
    target = ColumnSpec(
        cfg.target,
        target_type,
        cfg.target_range.min if cfg.task == "regression" else None,
        cfg.target_range.max if cfg.task == "regression" else None,
        required=False,
    )
    if cfg.task == "multiclass":  # a label is one of the classes, as text
        target = ColumnSpec(cfg.target, "category", values=tuple(cfg.classes or ()), required=False)
    return (
        ColumnSpec(cfg.id_column, "str", unique=True),
        ColumnSpec(cfg.timestamp_column, "timestamp"),
        *(from_feature(n, f) for n, f in cfg.features.items()),
        target,
    )


def _field(spec: ColumnSpec, *, validated: bool) -> Any:
    kwargs: dict[str, Any] = {}
    if spec.min is not None:
        kwargs["ge"] = spec.min
    if spec.max is not None:
        kwargs["le"] = spec.max
    if spec.values is not None:
        kwargs["isin"] = list(spec.values)
    if spec.type in ("str", "category"):
        kwargs["str_length"] = {"min_value": 1}
    # the optional target may be missing (labels arrive later), and so may a nullable feature
    nullable = not spec.required or spec.nullable
    return pa.Field(
        nullable=nullable,
        unique=spec.unique and validated,
        required=spec.required,
        **kwargs,
    )


def _model_name(cfg: ProjectConfig, stage: str) -> str:
    base = "".join(part.capitalize() for part in cfg.name.replace("-", "_").split("_"))
    return f"{stage}{base}"


def build_contracts(cfg: ProjectConfig, now: datetime | None = None) -> Contracts:
    """Build the raw and validated DataFrameModels for a project.

    ``now`` (UTC, naive) anchors the "not in the future" check on the timestamp column.
    """
    now = now or datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    limit = pd.Timestamp(now + timedelta(minutes=cfg.validation.future_tolerance_minutes))
    specs = column_specs(cfg)
    ts_col = cfg.timestamp_column

    def not_in_future(cls: Any, s: pd.Series) -> pd.Series:
        return s <= limit

    def make(stage: str, validated: bool) -> type[pa.DataFrameModel]:
        attrs: dict[str, Any] = {"__annotations__": {}}
        for spec in specs:
            dtype = _NULLABLE_DTYPES.get(spec.type) if spec.nullable else None
            attrs["__annotations__"][spec.name] = Series[dtype or _DTYPES[spec.type]]
            attrs[spec.name] = _field(spec, validated=validated)
        # the limit is also the check's statistic, so validation evaluates it vectorised
        attrs["_not_in_future"] = pa.check(
            ts_col, name="not_in_future", statistics={"max_value": limit}
        )(not_in_future)
        name = _model_name(cfg, stage)
        attrs["Config"] = type("Config", (), {"coerce": True, "strict": validated, "name": name})
        attrs["__doc__"] = f"{stage} rows of project {cfg.name!r} (schema v{SCHEMA_VERSION})."
        return type(name, (pa.DataFrameModel,), attrs)

    return Contracts(make("Raw", False), make("Validated", True), specs, now)
