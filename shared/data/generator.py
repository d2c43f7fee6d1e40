"""Seeded generator of food-delivery orders (the default use case: ETA prediction).

Orders and their true delivery times are produced separately: the times are the delayed
labels that arrive after the orders are served. Knobs: ``drift`` (0 = the reference world,
1 = longer trips, more rain, busier couriers, a shifted zone mix) and ``bad_fraction`` (rows
corrupted in one of :data:`BAD_KINDS` ways, as real exports are).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

CUISINES = ("burger", "pizza", "sushi", "thai", "indian", "salad", "dessert", "mexican")
ZONES = ("center", "north", "south", "east", "west")
_PREP_MEAN = {
    "burger": 11,
    "pizza": 16,
    "sushi": 18,
    "thai": 15,
    "indian": 17,
    "salad": 8,
    "dessert": 6,
    "mexican": 13,
}
_ZONE_SPEED = {"center": 14.0, "north": 20.0, "south": 19.0, "east": 22.0, "west": 24.0}

# kind -> (column it corrupts, the check expected to catch it)
BAD_KINDS: dict[str, tuple[str, str]] = {
    "wrong_type": ("distance_km", "dtype('float64')"),
    "nan": ("prep_minutes", "not_nullable"),
    "inf": ("distance_km", "finite"),
    "negative_distance": ("distance_km", "greater_than_or_equal_to"),
    "hour_out_of_range": ("hour", "less_than_or_equal_to"),
    "weekday_out_of_range": ("weekday", "less_than_or_equal_to"),
    "unknown_cuisine": ("cuisine", "isin"),
    "unknown_zone": ("zone", "isin"),
    "missing_field": ("zone", "not_nullable"),
    "duplicated_id": ("order_id", "unique"),
    "future_timestamp": ("created_at", "not_in_future"),
    "huge_value": ("basket_size", "less_than_or_equal_to"),
    "empty_string": ("cuisine", "str_length"),
    "negative_prep": ("prep_minutes", "greater_than_or_equal_to"),
    "fractional_count": ("basket_size", "dtype('int64')"),
    "bad_timestamp": ("created_at", "dtype('datetime64[ns]')"),
    "negative_load": ("courier_load", "greater_than_or_equal_to"),
    "bad_bool": ("rain", "dtype('bool')"),
    "missing_id": ("order_id", "not_nullable"),
}
# kinds whose values still fit a typed (numeric) Parquet column
TYPED_KINDS = tuple(
    k for k in BAD_KINDS if k not in ("wrong_type", "fractional_count", "bad_timestamp", "bad_bool")
)


@dataclass(frozen=True)
class GeneratedBatch:
    """A batch of orders and, separately, their true delivery minutes (delayed labels)."""

    orders: pd.DataFrame
    labels: pd.DataFrame  # order_id, delivery_minutes, delivered_at
    bad_rows: pd.DataFrame  # row, kind: which rows were corrupted and how


def true_delivery_minutes(orders: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """The world's delivery time: prep, travel at a zone/hour/rain speed, queueing, noise."""
    dist = orders["distance_km"].to_numpy(float)
    prep = orders["prep_minutes"].to_numpy(float)
    hour = orders["hour"].to_numpy(int)
    rain = orders["rain"].to_numpy(bool)
    load = orders["courier_load"].to_numpy(float)
    basket = orders["basket_size"].to_numpy(float)
    speed = orders["zone"].map(_ZONE_SPEED).to_numpy(float)
    rush = ((hour >= 11) & (hour <= 13)) | ((hour >= 18) & (hour <= 20))
    speed = speed * np.where(rush, 0.72, 1.0) * np.where(rain, 0.8, 1.0)
    speed = speed * np.where(dist > 6, 1.25, 1.0)  # longer trips use faster roads
    travel = dist / speed * 60.0
    queue = 0.6 * np.maximum(load - 6, 0) ** 1.3 + np.where(rain & rush, 4.0, 0.0)
    handling = 1.5 + 0.12 * basket
    noise = rng.gamma(2.0, 1.2, size=len(dist))
    return np.round(prep + travel + queue + handling + noise, 2)


def generate_orders(
    rows: int,
    seed: int = 7,
    *,
    bad_fraction: float = 0.0,
    drift: float = 0.0,
    start: str | datetime = "2026-10-01T00:00:00",
    days: int = 28,
    bad_kinds: tuple[str, ...] | None = None,
    id_prefix: str | None = None,
) -> GeneratedBatch:
    """Make ``rows`` realistic orders; same arguments, same batch."""
    if rows <= 0:
        raise ValueError("rows must be positive")
    if not 0.0 <= bad_fraction <= 1.0:
        raise ValueError("bad_fraction must be within [0, 1]")
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    offsets = np.sort(rng.uniform(0, days * 86400.0, size=rows))
    # orders cluster around lunch and dinner: re-draw the hour of day
    day = np.floor(offsets / 86400.0)
    hour = rng.choice(24, size=rows, p=_hour_profile())
    minute = rng.uniform(0, 3600.0, size=rows)
    created = t0 + pd.to_timedelta(day * 86400.0 + hour * 3600.0 + minute, unit="s")
    created = created.floor("s")
    order = np.argsort(created.to_numpy(), kind="stable")
    created = created[order]
    hour = hour[order]

    zone_p = np.array([0.34, 0.18, 0.18, 0.15, 0.15])
    zone_p = (1 - drift) * zone_p + drift * np.array([0.1, 0.2, 0.2, 0.25, 0.25])
    zone = rng.choice(ZONES, size=rows, p=zone_p / zone_p.sum())
    cuisine = rng.choice(CUISINES, size=rows)
    distance = np.clip(rng.lognormal(np.log(2.6) + 0.5 * drift, 0.6, size=rows), 0.1, 40)
    prep = np.clip(rng.normal([_PREP_MEAN[c] for c in cuisine], 3.5), 2, 90)
    rain = rng.random(rows) < (0.18 + 0.35 * drift)
    load = np.clip(rng.poisson(4 + 5 * drift + 3 * np.isin(hour, [12, 19]), size=rows), 0, 35)
    basket = np.clip(rng.poisson(3, size=rows) + 1, 1, 40)
    prefix = id_prefix or f"o{seed}"
    orders = pd.DataFrame(
        {
            "order_id": [f"{prefix}-{i:07d}" for i in range(rows)],
            "created_at": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "distance_km": np.round(distance, 3),
            "prep_minutes": np.round(prep, 1),
            "hour": hour.astype(int),
            "weekday": created.day_of_week.to_numpy().astype(int),
            "courier_load": load.astype(int),
            "rain": rain,
            "cuisine": cuisine,
            "zone": zone,
            "basket_size": basket.astype(int),
        }
    )
    minutes = true_delivery_minutes(orders, rng)
    labels = pd.DataFrame(
        {
            "order_id": orders["order_id"],
            "delivery_minutes": minutes,
            "delivered_at": (created + pd.to_timedelta(minutes, unit="m"))
            .floor("s")
            .strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    orders, bad = _corrupt(orders, rng, bad_fraction, bad_kinds or tuple(BAD_KINDS))
    return GeneratedBatch(orders, labels, bad)


def _hour_profile() -> np.ndarray:
    base = np.array(
        [
            1,
            0.5,
            0.3,
            0.2,
            0.2,
            0.3,
            0.8,
            1.5,
            2,
            2.2,
            2.8,
            5.5,
            7,
            5.5,
            3,
            2.5,
            3,
            5,
            7.5,
            8,
            6.5,
            4,
            2.5,
            1.5,
        ]
    )
    return base / base.sum()


def _corrupt(
    orders: pd.DataFrame, rng: np.random.Generator, fraction: float, kinds: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    n_bad = int(round(len(orders) * fraction))
    if n_bad == 0:
        return orders, pd.DataFrame({"row": pd.Series([], dtype="int64"), "kind": []})
    typed_only = set(kinds) <= set(TYPED_KINDS)
    out = orders if typed_only else orders.astype(object)
    if typed_only:
        out = orders.astype(
            {
                "distance_km": float,
                "prep_minutes": float,
                "basket_size": float,
                "hour": float,
                "weekday": float,
                "courier_load": float,
            }
        )
    rows = rng.choice(np.arange(1, len(orders)), size=min(n_bad, len(orders) - 1), replace=False)
    which = rng.choice(np.array(kinds), size=len(rows))
    clean = np.setdiff1d(np.arange(len(orders)), rows)
    for kind in kinds:
        r = rows[which == kind]
        if len(r):
            # duplicates copy the id of an earlier uncorrupted row (row 0 always is one),
            # so each really collides and the earlier row stays the valid one
            earlier = np.searchsorted(clean, r)
            sources = clean[np.floor(rng.random(len(r)) * earlier).astype(int)]
            _apply(out, kind, r, rng, sources=sources)
    bad = pd.DataFrame({"row": rows.astype("int64"), "kind": which}).sort_values("row")
    return out, bad.reset_index(drop=True)


def _apply(
    df: pd.DataFrame,
    kind: str,
    r: np.ndarray,
    rng: np.random.Generator,
    sources: np.ndarray | None = None,
) -> None:
    col = BAD_KINDS[kind][0]
    j = df.columns.get_loc(col)
    values = {
        "wrong_type": lambda k: rng.choice(["abc", "12km", "n/a?"], size=k),
        "nan": lambda k: np.full(k, np.nan),
        "inf": lambda k: np.full(k, np.inf),
        "negative_distance": lambda k: -rng.uniform(0.1, 5, size=k).round(2),
        "hour_out_of_range": lambda k: rng.integers(24, 99, size=k),
        "weekday_out_of_range": lambda k: rng.integers(7, 12, size=k),
        "unknown_cuisine": lambda k: np.full(k, "klingon"),
        "unknown_zone": lambda k: np.full(k, "atlantis"),
        "missing_field": lambda k: np.full(k, None),
        "future_timestamp": lambda k: np.full(k, "2099-01-01T12:00:00"),
        "huge_value": lambda k: np.full(k, 1e9),
        "empty_string": lambda k: np.full(k, "  "),
        "negative_prep": lambda k: -rng.uniform(1, 20, size=k).round(1),
        "fractional_count": lambda k: rng.integers(1, 6, size=k) + 0.5,
        "bad_timestamp": lambda k: np.full(k, "yesterday-ish"),
        "negative_load": lambda k: -rng.integers(1, 5, size=k),
        "bad_bool": lambda k: np.full(k, "maybe"),
        "missing_id": lambda k: np.full(k, None),
    }
    if kind == "duplicated_id":
        df.iloc[r, j] = df.iloc[r - 1 if sources is None else sources, j].to_numpy()
        return
    df.iloc[r, j] = values[kind](len(r))


def write_csv(df: pd.DataFrame, path: str) -> None:
    """Write a raw batch as a CSV export would (UTF-8, comma separated, header row)."""
    df.to_csv(path, index=False)


# -- a three-class variant: how a delivery went, from its true minutes -----------------------
DELIVERY_CLASSES = ("fast", "usual", "slow")
DELIVERY_CLASS_EDGES = (26.0, 34.0)  # minutes: about a third of the orders in each class


def delivery_class(
    minutes: np.ndarray, edges: tuple[float, float] = DELIVERY_CLASS_EDGES
) -> np.ndarray:
    """``fast`` below the first edge, ``slow`` above the second, ``usual`` between."""
    m = np.asarray(minutes, dtype=float)
    return np.where(m < edges[0], "fast", np.where(m > edges[1], "slow", "usual")).astype(object)


def generate_classed_orders(rows: int, seed: int = 7, **kwargs: object) -> GeneratedBatch:
    """Orders whose labels are a delivery class (``delivery_class`` in :data:`DELIVERY_CLASSES`)
    beside the minutes: the generated three-class project (same arguments as
    :func:`generate_orders`)."""
    g = generate_orders(rows, seed, **kwargs)  # type: ignore[arg-type]
    labels = g.labels.assign(delivery_class=delivery_class(g.labels["delivery_minutes"]))
    return GeneratedBatch(g.orders, labels, g.bad_rows)
