"""One patient's outcome scores over time, per instrument, with the MCID band."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from patients import instruments
from patients.selectors import MeasureSeries

from .common import (
    BAND,
    BLUE,
    GREEN,
    DataTable,
    Figure,
    Trace,
    axis_id,
    day_label,
    new_figure,
    no_data,
    stacked_subplots,
)

SCORE_LINE = {"color": BLUE, "width": 2.5}
SCORE_MARKER = {"color": BLUE, "size": 9}
NO_LINE = {"width": 0}
PASS_LINE = {"color": GREEN, "dash": "dot", "width": 1.5}


def outcome_mcid(series: MeasureSeries) -> float | None:
    """The instrument's MCID around the first score (NPRS: 2 points or 30% of it)."""
    if series.baseline is None:
        return None
    return instruments.score_change(series.instrument, series.baseline, series.baseline).threshold


def outcome_scores_figure(measures: Sequence[MeasureSeries], *, zone: dt.tzinfo = dt.UTC) -> Figure:
    """Scores over time, one panel per instrument, with the MCID band around the first score."""
    rows = max(1, len(measures))
    figure = new_figure(
        "Outcome scores, with the MCID band around the first score",
        height=320 + 240 * (rows - 1),
        **stacked_subplots(rows, vertical_spacing=0.2 / rows if rows > 1 else 0.1),
    )
    layout = figure["layout"]
    traces: list[Trace] = []
    shapes: list[dict[str, Any]] = []
    days: list[dt.date] = []
    for row, series in enumerate(measures, start=1):
        suffix = axis_id(row)
        mcid = outcome_mcid(series)
        if series.baseline is not None and mcid is not None:
            shapes.append(
                {
                    "fillcolor": BAND,
                    "layer": "below",
                    "legendgroup": f"mcid-{series.instrument}",
                    "line": NO_LINE,
                    "name": f"First score ± MCID ({mcid:g})",
                    "showlegend": True,
                    "type": "rect",
                    "x0": 0,
                    "x1": 1,
                    "xref": f"x{suffix} domain",
                    "y0": max(series.score_min, series.baseline - mcid),
                    "y1": min(series.score_max, series.baseline + mcid),
                    "yref": f"y{suffix}",
                }
            )
        if series.pass_threshold is not None:
            shapes.append(
                {
                    "line": PASS_LINE,
                    "name": f"Acceptable symptom state ({series.pass_threshold:g})",
                    "showlegend": True,
                    "type": "line",
                    "x0": 0,
                    "x1": 1,
                    "xref": f"x{suffix} domain",
                    "y0": series.pass_threshold,
                    "y1": series.pass_threshold,
                    "yref": f"y{suffix}",
                }
            )
        taken_on = [point.taken_at.astimezone(zone).date() for point in series.points]
        days += taken_on
        traces.append(
            {
                "hovertemplate": f"{series.name}<br>%{{x|%d %b %Y}}: %{{y:.1f}}<extra></extra>",
                "line": SCORE_LINE,
                "marker": SCORE_MARKER,
                "mode": "lines+markers",
                "name": series.name,
                "x": taken_on,
                "y": [point.score for point in series.points],
                "type": "scatter",
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
            }
        )
        better = "higher" if series.higher_is_better else "lower"
        pad = (series.score_max - series.score_min) * 0.04
        short_name = series.instrument.replace("_", " ").upper()
        layout[f"yaxis{suffix}"].update(
            title={
                "text": f"{short_name} ({series.score_min:g}–{series.score_max:g}, "
                f"{better} is better)"
            },
            range=[series.score_min - pad, series.score_max + pad],
        )
    figure["data"] = traces
    if shapes:
        layout["shapes"] = shapes
    span = None
    if days and (max(days) - min(days)).days < 28:
        # A single score (or a few close together) would zoom the axis in to milliseconds.
        middle = min(days) + (max(days) - min(days)) / 2
        span = [middle - dt.timedelta(days=21), middle + dt.timedelta(days=21)]
    for row in range(1, rows + 1):
        xaxis = layout[f"xaxis{axis_id(row)}"]
        if span is not None:
            xaxis["range"] = span
        xaxis.update(type="date", tickformat="%d %b")
    layout[f"xaxis{axis_id(rows)}"]["title"] = {"text": "Date taken"}
    if not measures:
        no_data(figure, "No outcome measures recorded yet")
    return figure


def outcome_scores_table(
    measures: Sequence[MeasureSeries], *, zone: dt.tzinfo = dt.UTC
) -> DataTable:
    rows = []
    for series in measures:
        for point in series.points:
            change = instruments.score_change(series.instrument, series.baseline, point.score)
            if change.meaningful:
                verdict = "better by the MCID or more" if change.improved else "worse by the MCID"
            else:
                verdict = "within the MCID"
            rows.append(
                (
                    series.name,
                    day_label(point.taken_at.astimezone(zone).date()),
                    f"{point.score:g}",
                    f"{change.delta:+g}",
                    verdict,
                )
            )
    return DataTable(
        caption="Outcome scores; change from the first score of each instrument",
        columns=("Instrument", "Date", "Score", "Change", "Against the MCID"),
        rows=rows,
    )
