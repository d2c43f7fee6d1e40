"""How every page draws: one colour meaning for guard decisions, tables that show words
(never ``None``), labels readable in full, and the break-even chart."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

# A guard decision has one colour on every page, colour-blind safe: the model's own answer
# in neutral blue, the Software 1.0 interventions in amber shades (corrected light,
# fallback dark), rejected in red. They differ in lightness as well as hue, and never rely on
# colour alone: always in this order, with their names on the axis, legend and tooltip.
DECISIONS = ["model", "corrected", "fallback", "rejected"]
DECISION_COLOURS = ["#0072B2", "#F2C14E", "#C77C02", "#B2182B"]
LABEL_LIMIT = 900  # pixels: axis labels such as long reason codes are never cut


def _decision_colour(title: str = "decision") -> alt.Color:
    return alt.Color(
        "decision:N",
        scale=alt.Scale(domain=DECISIONS, range=DECISION_COLOURS),
        sort=DECISIONS,
        legend=alt.Legend(title=title, orient="top"),
    )


def decisions_chart(frame: pd.DataFrame, x: str, x_title: str) -> None:
    """Stacked bars of decisions per ``x`` (a batch, a day), always in DECISIONS' order."""
    long = (
        frame.reindex(columns=[x, *DECISIONS])
        .fillna(dict.fromkeys(DECISIONS, 0))
        .melt(id_vars=[x], value_vars=DECISIONS, var_name="decision", value_name="rows")
    )
    long["order"] = long["decision"].map(DECISIONS.index)
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:O", title=x_title, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("rows:Q", stack="zero", title="rows"),
            color=_decision_colour(),
            order=alt.Order("order:Q"),
            tooltip=[x, "decision", "rows"],
        )
    )
    st.altair_chart(chart, width="stretch")


def decision_totals_chart(counts: dict[str, int]) -> None:
    """One bar per decision (a batch's totals), named on the axis, in DECISIONS' order."""
    frame = pd.DataFrame({"decision": DECISIONS, "rows": [counts.get(d, 0) for d in DECISIONS]})
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("decision:N", sort=DECISIONS, title=None),
            x=alt.X("rows:Q", title="rows"),
            color=_decision_colour(),
            tooltip=["decision", "rows"],
        )
    )
    st.altair_chart(chart, width="stretch")


def labelled_bars(frame: pd.DataFrame, label: str, value: str) -> None:
    """Horizontal bars whose labels (e.g. reason codes) are shown in full, longest first."""
    height = max(160, 28 * len(frame))
    axis = alt.Axis(labelLimit=LABEL_LIMIT, labelOverlap=False)  # every label, in full
    chart = (
        alt.Chart(frame)
        .mark_bar(color="#6B6B6B")
        .encode(
            y=alt.Y(f"{label}:N", sort="-x", title=None, axis=axis),
            x=alt.X(f"{value}:Q", title=value),
            tooltip=[label, value],
        )
        .properties(height=height)
    )
    st.altair_chart(chart, width="stretch", height=height)


def table(
    frame: pd.DataFrame,
    words: dict[str, str] | None = None,
    default: str = "none",
    formats: dict[str, str] | None = None,
    **kwargs: object,
) -> None:
    """``st.dataframe`` that shows words where a value is missing (``words[column]`` or
    ``default``), never ``None``; ``formats``: a format string per numeric column."""
    words, formats = words or {}, formats or {}
    shown = frame.copy()
    for col in shown.columns:  # the grid draws a missing cell as "None" whatever its format
        if shown[col].isna().any():
            fmt = formats.get(col, "{}")
            shown[col] = [
                words.get(col, default) if pd.isna(v) else fmt.format(v) for v in shown[col]
            ]
    styler = shown.style
    for col, fmt in formats.items():
        if col in shown.columns and pd.api.types.is_numeric_dtype(shown[col]):
            styler = styler.format(fmt, subset=[col])
    kwargs.setdefault("hide_index", True)
    kwargs.setdefault("width", "stretch")
    st.dataframe(styler, **kwargs)


def break_even_chart(chart: pd.DataFrame, currency: str, break_even_at: int | None) -> None:
    """Cumulative fixed cost, fixed plus variable cost, and benefit against the number of
    models built that served (SEED_NOTES.md "Break-even"); the fixed-cost line dashed on
    top (visible even where variable costs are small), the break-even point marked."""
    series = {
        "fixed": "fixed cost",
        "total_cost": "fixed + variable cost",
        "benefit": "cumulative benefit",
    }
    long = chart.melt(
        id_vars=["models_built", "version"],
        value_vars=list(series),
        var_name="series",
        value_name=currency,
    ).assign(series=lambda d: d["series"].map(series))
    names = list(series.values())
    colour = alt.Color(
        "series:N",
        scale=alt.Scale(domain=names, range=["#4D4D4D", "#D55E00", "#009E73"]),
        sort=names,
        legend=alt.Legend(title=None, orient="top"),
    )
    x = alt.X(
        "models_built:Q",
        title="models built that served production",
        axis=alt.Axis(tickMinStep=1, format="d"),
        scale=alt.Scale(domainMin=0),
    )
    y = alt.Y(f"{currency}:Q", title=f"cumulative {currency}", axis=alt.Axis(format=",.0f"))
    tip = ["series", "models_built", "version", alt.Tooltip(f"{currency}:Q", format=",.0f")]
    base = alt.Chart(long).encode(x=x, y=y, color=colour, tooltip=tip)
    fixed = long[long["series"] == "fixed cost"]
    layers = [
        alt.Chart(fixed).mark_area(opacity=0.12, color="#4D4D4D").encode(x=x, y=y),
        base.transform_filter(alt.datum.series != "fixed cost").mark_line(
            point=True, strokeWidth=2.5
        ),
        base.transform_filter(alt.datum.series == "fixed cost").mark_line(
            point=True, strokeDash=[8, 5], strokeWidth=3
        ),
    ]
    if break_even_at is not None:
        hit = chart[chart["models_built"] == break_even_at]
        mark = pd.DataFrame(
            {
                "models_built": [break_even_at],
                currency: [float(hit["benefit"].iloc[0])],
                "label": [f"break-even: {break_even_at} model(s)"],
            }
        )
        spot = alt.Chart(mark).encode(x=x, y=y)
        layers += [
            alt.Chart(mark).mark_rule(strokeDash=[2, 2], color="#009E73").encode(x=x),
            spot.mark_point(size=220, shape="diamond", filled=True, color="#009E73"),
            spot.mark_text(align="right", dx=-12, dy=-14, fontWeight="bold").encode(text="label"),
        ]
    st.altair_chart(alt.layer(*layers).properties(height=380), width="stretch")
