"""One patient's charts: the pain trend and the adherence calendar with weekly bars."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from patients import instruments
from programs.adherence import PrescriptionAdherence, WeekAdherence
from programs.models import Alert
from programs.pain import PainTrend
from programs.selectors import PhaseChange

from .common import (
    BAND,
    BLACK,
    BLUE,
    DAY_MS,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    SKY_BLUE,
    VERMILLION,
    DataTable,
    Figure,
    Trace,
    day_label,
    new_figure,
    no_data,
    percent,
    stacked_subplots,
)

PAIN_RANGE = (-0.3, 10.6)
ALERT_MARKER_Y = 10.0
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Calendar cell classes, light to dark so they also read in greyscale.
CALENDAR_CLASSES = (
    ("Not planned (paused)", "#eef0f2"),
    ("No session", "#f3c77a"),
    ("1 session", SKY_BLUE),
    ("2 or more sessions", BLUE),
)

# Constant parts of the figures, built once (figures share them: never mutate them).
PAIN_XAXIS = {"title": {"text": "Date (patient's local day)"}, "type": "date"}
PAIN_YAXIS = {"title": {"text": "Pain (NPRS, 0–10)"}, "range": list(PAIN_RANGE), "dtick": 2}
BEFORE_MARKER = {"color": SKY_BLUE, "line": {"width": 2}, "size": 8, "symbol": "circle-open"}
AFTER_MARKER = {"color": VERMILLION, "size": 7, "symbol": "diamond"}
MEAN_LINE = {"color": BLUE, "width": 3}
ALERT_MARKER = {"color": BLACK, "size": 13, "symbol": "triangle-down"}
NO_LINE = {"width": 0}
BASELINE_LINE = {"color": BLACK, "dash": "dash", "width": 1.5}
PHASE_CHANGE_LINE = {"color": PURPLE, "dash": "dot", "width": 2}
PHASE_CHANGE_FONT = {"color": "#7a3d63", "size": 11}
CALENDAR_COLORSCALE = [
    [bound / len(CALENDAR_CLASSES), colour]
    for index, (_, colour) in enumerate(CALENDAR_CLASSES)
    for bound in (index, index + 1)
]
CALENDAR_COLORBAR = {
    "len": 0.5,
    "outlinewidth": 0,
    "thickness": 12,
    "tickvals": list(range(len(CALENDAR_CLASSES))),
    "ticktext": [label for label, _ in CALENDAR_CLASSES],
    "y": 1.0,
    "yanchor": "top",
}
WEEK_MARKERS = {  # bar colour per week group, in legend order
    "On track": {"color": GREEN, "pattern": {"shape": ""}},
    "Below on-track": {"color": ORANGE, "pattern": {"shape": ""}},
    "Week in progress": {"color": GREY, "pattern": {"shape": "/"}},
}


# --- pain trend --------------------------------------------------------------------------


def pain_mcid(pain: PainTrend) -> float | None:
    """The NPRS MCID around the baseline: 2 points or 30% of it, whichever is smaller."""
    if pain.baseline is None:
        return None
    if pain.mcid_threshold is not None:
        return pain.mcid_threshold
    return instruments.score_change("nprs", pain.baseline, pain.baseline).threshold


def pain_trend_figure(
    pain: PainTrend,
    *,
    phase_changes: Sequence[PhaseChange] = (),
    alerts: Sequence[Alert] = (),
    zone: dt.tzinfo = dt.UTC,
) -> Figure:
    """Pain before/after each session (points), the 7-day mean (line), the baseline with its
    MCID band, dashed markers where the phase changed, and triangles where alerts opened."""
    figure = new_figure(
        "Pain before and after sessions, with the 7-day mean",
        height=440,
        xaxis=PAIN_XAXIS,
        yaxis=PAIN_YAXIS,
    )
    before = [day for day in pain.days if day.before is not None]
    after = [day for day in pain.days if day.after is not None]
    traces: list[Trace] = [
        {
            "hovertemplate": "%{x|%a %d %b %Y}<br>Pain before: %{y:.1f}/10<extra></extra>",
            "marker": BEFORE_MARKER,
            "mode": "markers",
            "name": "Before session",
            "x": [day.day for day in before],
            "y": [day.before for day in before],
            "type": "scatter",
        },
        {
            "hovertemplate": "%{x|%a %d %b %Y}<br>Pain after: %{y:.1f}/10<extra></extra>",
            "marker": AFTER_MARKER,
            "mode": "markers",
            "name": "After session",
            "x": [day.day for day in after],
            "y": [day.after for day in after],
            "type": "scatter",
        },
        {
            "hovertemplate": "%{x|%a %d %b %Y}<br>7-day mean: %{y:.2f}/10<extra></extra>",
            "line": MEAN_LINE,
            "mode": "lines",
            "name": "7-day mean",
            "x": [day.day for day in pain.days],
            "y": [day.rolling_mean for day in pain.days],
            "type": "scatter",
        },
    ]
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    mcid = pain_mcid(pain)
    if pain.baseline is not None and mcid is not None:
        shapes.append(
            {
                "fillcolor": BAND,
                "layer": "below",
                "line": NO_LINE,
                "name": f"Baseline ± MCID ({mcid:.1f} points)",
                "showlegend": True,
                "type": "rect",
                "x0": 0,
                "x1": 1,
                "xref": "paper",
                "y0": max(0.0, pain.baseline - mcid),
                "y1": min(10.0, pain.baseline + mcid),
                "yref": "y",
            }
        )
        shapes.append(
            {
                "line": BASELINE_LINE,
                "name": f"Baseline {pain.baseline:.1f}",
                "showlegend": True,
                "type": "line",
                "x0": 0,
                "x1": 1,
                "xref": "paper",
                "y0": pain.baseline,
                "y1": pain.baseline,
                "yref": "y",
            }
        )
    for index, change in enumerate(phase_changes):
        shapes.append(
            {
                "legendgroup": "phase-change",
                "line": PHASE_CHANGE_LINE,
                "name": "Phase change",
                "showlegend": index == 0,
                "type": "line",
                "x0": change.day,
                "x1": change.day,
                "xref": "x",
                "y0": 0,
                "y1": 1,
                "yref": "paper",
            }
        )
        annotations.append(
            {
                "font": PHASE_CHANGE_FONT,
                "showarrow": False,
                "text": change.phase_name,
                "textangle": -90,
                "x": change.day,
                "xanchor": "left",
                "xref": "x",
                "y": 0.02,
                "yanchor": "bottom",
                "yref": "paper",
            }
        )
    if alerts:
        traces.append(
            {
                "customdata": [[alert.get_kind_display(), alert.message] for alert in alerts],
                "hovertemplate": "%{x|%d %b %Y}<br><b>%{customdata[0]}</b><br>"
                "%{customdata[1]}<extra></extra>",
                "marker": ALERT_MARKER,
                "mode": "markers",
                "name": "Alert opened",
                "x": [alert.opened_at.astimezone(zone).date() for alert in alerts],
                "y": [ALERT_MARKER_Y] * len(alerts),
                "type": "scatter",
            }
        )
    figure["data"] = traces
    if shapes:
        figure["layout"]["shapes"] = shapes
    if annotations:
        figure["layout"]["annotations"] = annotations
    if not pain.days:
        no_data(figure, "No pain scores logged yet")
    return figure


def pain_trend_table(pain: PainTrend) -> DataTable:
    mcid = pain_mcid(pain)
    caption = "Pain per day (0–10)"
    if pain.baseline is not None and mcid is not None:
        caption += f"; baseline {pain.baseline:.1f}, MCID {mcid:.1f} points"
    return DataTable(
        caption=caption,
        columns=("Date", "Pain before", "Pain after", "Sessions", "7-day mean"),
        rows=[
            (
                day_label(day.day),
                "—" if day.before is None else f"{day.before:g}",
                "—" if day.after is None else f"{day.after:g}",
                str(day.sessions),
                f"{day.rolling_mean:.2f}",
            )
            for day in pain.days
        ],
    )


# --- adherence -----------------------------------------------------------------------------


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _calendar_class(planned: float, done: int) -> int:
    if planned <= 0:
        return 0
    return min(done, 2) + 1


def _week_group(week: WeekAdherence) -> str:
    if not week.complete:
        return "Week in progress"
    return "On track" if week.on_track else "Below on-track"


def adherence_figure(adherence: PrescriptionAdherence) -> Figure:
    """A calendar heatmap (weekday × week) of sessions planned vs done, over weekly adherence
    bars with the clinic's on-track line; both share the week axis."""
    axes = stacked_subplots(2, vertical_spacing=0.08, row_heights=[0.55, 0.45])
    figure = new_figure(
        "Adherence: sessions done against the plan", height=560, bargap=0.25, **axes
    )
    mondays = sorted({_monday(day.day) for day in adherence.days})
    column = {monday: index for index, monday in enumerate(mondays)}
    cells: list[list[int | None]] = [[None] * len(mondays) for _ in WEEKDAYS]
    hover: list[list[str]] = [[""] * len(mondays) for _ in WEEKDAYS]
    for day in adherence.days:
        row, col = day.day.weekday(), column[_monday(day.day)]
        cells[row][col] = _calendar_class(day.planned, day.done)
        plan = f"{day.planned * 7:.0f} sessions a week" if day.planned > 0 else "nothing planned"
        hover[row][col] = f"{day_label(day.day)}<br>Plan: {plan}<br>Done: {day.done}"
    traces: list[Trace] = [
        {
            "colorbar": CALENDAR_COLORBAR,
            "colorscale": CALENDAR_COLORSCALE,
            "hovertemplate": "%{text}<extra></extra>",
            "name": "Sessions per day",
            "text": hover,
            "x": mondays,
            "xgap": 3,
            "y": list(WEEKDAYS),
            "ygap": 3,
            "z": cells,
            "zmax": len(CALENDAR_CLASSES) - 0.5,
            "zmin": -0.5,
            "type": "heatmap",
            "xaxis": "x",
            "yaxis": "y",
        }
    ]
    groups: dict[str, list[WeekAdherence]] = {}
    for week in adherence.weeks:
        if week.ratio is not None:
            groups.setdefault(_week_group(week), []).append(week)
    for name, marker in WEEK_MARKERS.items():
        weeks = groups.get(name, [])
        if not weeks:
            continue
        traces.append(
            {
                "cliponaxis": False,
                "customdata": [
                    [week.iso_week, week.sessions_done, f"{week.sessions_planned:g}"]
                    for week in weeks
                ],
                "hovertemplate": "%{customdata[0]} (week of %{x|%d %b})<br>%{customdata[1]} of "
                "%{customdata[2]} planned sessions: %{y:.0f}%<extra></extra>",
                "marker": marker,
                "name": name,
                "text": [percent(week.ratio) for week in weeks],
                "textposition": "outside",
                "width": [7 * DAY_MS * 0.7] * len(weeks),
                "x": [week.start for week in weeks],
                "y": [round((week.ratio or 0) * 100, 1) for week in weeks],
                "type": "bar",
                "xaxis": "x2",
                "yaxis": "y2",
            }
        )
    figure["data"] = traces
    threshold = adherence.on_track_threshold
    layout = figure["layout"]
    layout["shapes"] = [
        {
            "line": BASELINE_LINE,
            "name": f"On-track line ({threshold:.0%})",
            "showlegend": True,
            "type": "line",
            "x0": 0,
            "x1": 1,
            "xref": "x2 domain",
            "y0": threshold * 100,
            "y1": threshold * 100,
            "yref": "y2",
        }
    ]
    layout["yaxis"].update(title={"text": "Sessions per day"}, autorange="reversed", showgrid=False)
    layout["yaxis2"].update(title={"text": "Weekly adherence (%)"}, range=[0, 115])
    layout["xaxis"].update(matches="x2", showticklabels=False, showgrid=False)
    # Ticks on Mondays (Plotly's weekly ticks fall on Sundays), at most about a dozen.
    every = max(1, -(-len(mondays) // 12))
    layout["xaxis2"].update(
        title={"text": "Week starting (Monday)"}, tickformat="%d %b", dtick=7 * DAY_MS * every
    )
    if mondays:
        layout["xaxis2"]["tick0"] = mondays[0]
    if not adherence.days:
        no_data(figure, "No days planned yet")
    return figure


def adherence_table(adherence: PrescriptionAdherence) -> DataTable:
    rows = []
    for week in adherence.weeks:
        status = "nothing planned" if week.ratio is None else _week_group(week).lower()
        rows.append(
            (
                week.iso_week,
                day_label(week.start),
                f"{week.sessions_planned:g}",
                str(week.sessions_done),
                percent(week.ratio),
                status,
            )
        )
    return DataTable(
        caption=f"Adherence per week; on track at {adherence.on_track_threshold:.0%} or more",
        columns=("ISO week", "Week starting", "Planned", "Done", "Adherence", "Status"),
        rows=rows,
    )
