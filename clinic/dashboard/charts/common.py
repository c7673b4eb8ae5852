"""Palette, layout template and the embeddable chart object shared by the builders.

Figures are plain Plotly figure specs, `{"data": [traces], "layout": {...}}`, the JSON that
plotly.js draws. `plotly.graph_objects` would validate and deep-copy every property on every
page view (most of the patient page's CPU); the builders' tests pin the specs down instead.
The constant parts (template, axis styles) are built once per process and shared between
figures: never mutate a figure's nested dicts in place, replace them.
"""

import datetime as dt
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.utils.safestring import SafeString, mark_safe

Figure = dict[str, Any]  # {"data": [trace, ...], "layout": {...}}
Trace = dict[str, Any]

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}
BLACK = OKABE_ITO["black"]
ORANGE = OKABE_ITO["orange"]
SKY_BLUE = OKABE_ITO["sky_blue"]
GREEN = OKABE_ITO["green"]
BLUE = OKABE_ITO["blue"]
VERMILLION = OKABE_ITO["vermillion"]
PURPLE = OKABE_ITO["purple"]
GREY = OKABE_ITO["grey"]
INK = "#1f2933"
GRID = "#e4e7eb"
BAND = "rgba(153, 153, 153, 0.25)"  # MCID bands

_AXIS = {
    "gridcolor": GRID,
    "linecolor": "#9aa5b1",
    "zeroline": False,
    "ticks": "outside",
    "tickcolor": "#9aa5b1",
    "automargin": True,
    "title": {"standoff": 8},
}
# A Plotly layout template: plotly.js applies it under each figure's own layout.
TEMPLATE = {
    "layout": {
        "font": {
            "family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
            "size": 13,
            "color": INK,
        },
        "colorway": [BLUE, ORANGE, GREEN, VERMILLION, SKY_BLUE, PURPLE, BLACK],
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "title": {"x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "font": {"size": 16}},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "legend": {"orientation": "h", "x": 0, "xanchor": "left", "y": 1.0, "yanchor": "bottom"},
        "margin": {"l": 64, "r": 24, "t": 96, "b": 48},
        "hoverlabel": {"bgcolor": "#ffffff", "font": {"color": INK}},
        "hovermode": "closest",
    }
}
DAY_MS = 24 * 60 * 60 * 1000
NO_DATA_FONT = {"size": 14, "color": "#52606d"}

# Characters that could end the <script> element or start an HTML comment inside it.
_JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def new_figure(title: str, *, height: int, **layout: Any) -> Figure:
    return {
        "data": [],
        "layout": {"template": TEMPLATE, "title": {"text": title}, "height": height, **layout},
    }


def axis_id(row: int) -> str:
    """Plotly's name for the axis of subplot row `row` (1-based): x, x2, x3…"""
    return "" if row == 1 else str(row)


def stacked_subplots(
    rows: int, *, vertical_spacing: float, row_heights: list[float] | None = None
) -> dict[str, Any]:
    """Layout axes of `rows` subplots stacked in one column, top to bottom.

    The same domains as `plotly.subplots.make_subplots(rows=rows, cols=1, …)`, computed the
    same way so the JSON is the same to the last digit.
    """
    usable = 1.0 - vertical_spacing * (rows - 1)
    if row_heights is None:
        heights = [usable / rows] * rows
    else:
        total = float(sum(row_heights))
        heights = [usable * (height / total) for height in reversed(row_heights)]
    axes: dict[str, Any] = {}
    for row in range(1, rows + 1):
        from_bottom = rows - row
        start = sum(heights[:from_bottom]) + from_bottom * vertical_spacing
        end = start + heights[-row]
        start = 0.0 if -0.01 < start < 0.0 else start
        end = 1.0 if 1.0 < end < 1.01 else end
        suffix = axis_id(row)
        axes[f"xaxis{suffix}"] = {"anchor": f"y{suffix}", "domain": [0.0, 1.0]}
        axes[f"yaxis{suffix}"] = {"anchor": f"x{suffix}", "domain": [start, end]}
    return axes


def no_data(figure: Figure, message: str) -> Figure:
    figure["layout"]["annotations"] = [
        *figure["layout"].get("annotations", ()),
        {
            "font": NO_DATA_FONT,
            "showarrow": False,
            "text": message,
            "x": 0.5,
            "xref": "paper",
            "y": 0.5,
            "yref": "paper",
        },
    ]
    return figure


def day_label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.0%}"


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):  # datetime too: ISO 8601, as Plotly writes them
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # plotly.js draws null as a gap
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(item) for item in value]
    return value


def figure_json(figure: Figure) -> str:
    """The figure as JSON, escaped like Django's json_script (safe inside a <script>)."""
    options = {"ensure_ascii": False, "separators": (",", ":"), "default": _json_value}
    try:
        text = json.dumps(figure, allow_nan=False, **options)
    except ValueError:  # NaN or infinity, which JSON has no word for
        text = json.dumps(_without_nan(figure), allow_nan=False, **options)
    return text.translate(_JSON_SCRIPT_ESCAPES)


@dataclass(frozen=True)
class DataTable:
    """The numbers behind a chart, rendered as an HTML table."""

    caption: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]


@dataclass(frozen=True)
class Chart:
    """A figure ready to embed: a container div, its JSON and its data table."""

    element_id: str
    figure: Figure
    table: DataTable

    @property
    def title(self) -> str:
        return self.figure["layout"].get("title", {}).get("text") or ""

    @cached_property
    def figure_json(self) -> SafeString:
        return mark_safe(figure_json(self.figure))  # noqa: S308 (escaped for <script>)
