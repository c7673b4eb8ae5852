"""Palette, layout template and the embeddable chart object shared by the builders."""

import datetime as dt
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import plotly.graph_objects as go
from django.utils.safestring import SafeString, mark_safe

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
TEMPLATE = go.layout.Template(
    layout={
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
)
DAY_MS = 24 * 60 * 60 * 1000

# Characters that could end the <script> element or start an HTML comment inside it.
_JSON_SCRIPT_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026"}


def new_figure(title: str, *, height: int, **layout: Any) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(template=TEMPLATE, title={"text": title}, height=height, **layout)
    return figure


def no_data(figure: go.Figure, message: str) -> go.Figure:
    figure.add_annotation(
        text=message,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        showarrow=False,
        font={"size": 14, "color": "#52606d"},
    )
    return figure


def day_label(day: dt.date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.0%}"


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
    figure: go.Figure
    table: DataTable

    @property
    def title(self) -> str:
        return self.figure.layout.title.text or ""

    @cached_property
    def figure_json(self) -> SafeString:
        # Escaped like Django's json_script: safe inside <script type="application/json">.
        return mark_safe(self.figure.to_json().translate(_JSON_SCRIPT_ESCAPES))  # noqa: S308
