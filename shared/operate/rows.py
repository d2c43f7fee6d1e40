"""Operate: what one request row of the scoring service is, and a request's rows validated
(shared.operate.service): a feature is any one JSON value or null (the guard decides per
row); bodies that are not rows get 422 naming the field, requests over max_rows 413."""

import math
from typing import Annotated, Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    create_model,
)

from shared.config import ProjectConfig


def _one_value(v: Any) -> Any:
    """A feature's value as the guard takes it: one JSON value (a finite number, text,
    true/false) or null; a list, an object, NaN or Infinity is no row's value (422)."""
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, int | float):
        try:
            float(v)
        except OverflowError:  # an integer beyond any float
            raise ValueError("must be a finite number") from None
        if not math.isfinite(v):
            raise ValueError("must be a finite number (NaN and Infinity are not numbers)")
        return v
    raise ValueError("must be one value (a number, text, true or false) or null")


FeatureValue = Annotated[Any, BeforeValidator(_one_value)]


def row_model(cfg: ProjectConfig) -> type[BaseModel]:
    """Pydantic model of one request row, from the project's features."""
    fields: dict[str, Any] = {
        cfg.id_column: (str | None, None),
        cfg.timestamp_column: (str | None, None),
    }
    # a feature is any one JSON value, or null, or absent: the guard decides per row (a
    # nullable feature's gap passes; a missing other one is rejected naming the feature, or
    # a required rule's action; a value of the wrong type is rejected naming the check)
    for name in cfg.features:
        fields[name] = (FeatureValue, None)
    return create_model(
        "PredictRow", __config__=ConfigDict(extra="ignore", allow_inf_nan=False), **fields
    )


def request_rows(
    payload: Any,
    max_rows: int,
    one: TypeAdapter[Any],
    many: TypeAdapter[Any],
    setting: str = "service.max_rows",
) -> list[Any]:
    """The request's rows, validated: 422 on an empty list or a bad row, 413 over max_rows
    (``setting`` names the limit)."""
    if isinstance(payload, list):
        if not payload:
            raise RequestValidationError(
                [
                    {
                        "loc": ("body",),
                        "msg": "empty list: send at least one row",
                        "type": "too_short",
                    }
                ]
            )
        if len(payload) > max_rows:
            raise HTTPException(
                413,
                f"{len(payload):,} rows in one request, at most {max_rows:,} "
                f"({setting}): split the request",
            )
    try:
        return (
            many.validate_python(payload)
            if isinstance(payload, list)
            else [one.validate_python(payload)]
        )
    except ValidationError as e:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None
