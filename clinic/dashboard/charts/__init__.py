"""Plotly figure builders for the dashboard: pure functions from selector output to a figure
spec (a plain `{"data": [...], "layout": {...}}` dict, the JSON plotly.js draws).

They never query (their tests build them from plain dataclasses), and each figure has a
companion table with the same numbers, shown under the chart for screen readers and print.
Pages embed a figure as JSON in `<script type="application/json">`; `static/js/charts.js`
draws it with our own static plotly.js (no inline script, no CDN).
"""

from .clinic import (
    adherence_histogram_counts,
    adherence_histogram_figure,
    adherence_histogram_table,
    alerts_per_week_figure,
    alerts_per_week_table,
    pain_change_figure,
    pain_change_table,
)
from .common import OKABE_ITO, Chart, DataTable, Figure, figure_json
from .outcomes import outcome_mcid, outcome_scores_figure, outcome_scores_table
from .patient import (
    adherence_figure,
    adherence_table,
    pain_mcid,
    pain_trend_figure,
    pain_trend_table,
)

__all__ = [
    "OKABE_ITO",
    "Chart",
    "DataTable",
    "Figure",
    "adherence_figure",
    "adherence_histogram_counts",
    "adherence_histogram_figure",
    "adherence_histogram_table",
    "adherence_table",
    "alerts_per_week_figure",
    "alerts_per_week_table",
    "figure_json",
    "outcome_mcid",
    "outcome_scores_figure",
    "outcome_scores_table",
    "pain_change_figure",
    "pain_change_table",
    "pain_mcid",
    "pain_trend_figure",
    "pain_trend_table",
]
