"""One patient's charts: the pain trend and the adherence calendar with weekly bars."""

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

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
    TEMPLATE,
    VERMILLION,
    DataTable,
    day_label,
    new_figure,
    no_data,
    percent,
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
) -> go.Figure:
    """Pain before/after each session (points), the 7-day mean (line), the baseline with its
    MCID band, dashed markers where the phase changed, and triangles where alerts opened."""
    figure = new_figure(
        "Pain before and after sessions, with the 7-day mean",
        height=440,
        xaxis={"title": {"text": "Date (patient's local day)"}, "type": "date"},
        yaxis={"title": {"text": "Pain (NPRS, 0–10)"}, "range": list(PAIN_RANGE), "dtick": 2},
    )
    before = [day for day in pain.days if day.before is not None]
    after = [day for day in pain.days if day.after is not None]
    figure.add_trace(
        go.Scatter(
            name="Before session",
            x=[day.day for day in before],
            y=[day.before for day in before],
            mode="markers",
            marker={"color": SKY_BLUE, "symbol": "circle-open", "size": 8, "line": {"width": 2}},
            hovertemplate="%{x|%a %d %b %Y}<br>Pain before: %{y:.1f}/10<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            name="After session",
            x=[day.day for day in after],
            y=[day.after for day in after],
            mode="markers",
            marker={"color": VERMILLION, "symbol": "diamond", "size": 7},
            hovertemplate="%{x|%a %d %b %Y}<br>Pain after: %{y:.1f}/10<extra></extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            name="7-day mean",
            x=[day.day for day in pain.days],
            y=[day.rolling_mean for day in pain.days],
            mode="lines",
            line={"color": BLUE, "width": 3},
            hovertemplate="%{x|%a %d %b %Y}<br>7-day mean: %{y:.2f}/10<extra></extra>",
        )
    )
    mcid = pain_mcid(pain)
    if pain.baseline is not None and mcid is not None:
        figure.add_shape(
            type="rect",
            xref="paper",
            x0=0,
            x1=1,
            yref="y",
            y0=max(0.0, pain.baseline - mcid),
            y1=min(10.0, pain.baseline + mcid),
            fillcolor=BAND,
            line={"width": 0},
            layer="below",
            name=f"Baseline ± MCID ({mcid:.1f} points)",
            showlegend=True,
        )
        figure.add_shape(
            type="line",
            xref="paper",
            x0=0,
            x1=1,
            yref="y",
            y0=pain.baseline,
            y1=pain.baseline,
            line={"color": BLACK, "width": 1.5, "dash": "dash"},
            name=f"Baseline {pain.baseline:.1f}",
            showlegend=True,
        )
    for index, change in enumerate(phase_changes):
        figure.add_shape(
            type="line",
            xref="x",
            x0=change.day,
            x1=change.day,
            yref="paper",
            y0=0,
            y1=1,
            line={"color": PURPLE, "width": 2, "dash": "dot"},
            name="Phase change",
            legendgroup="phase-change",
            showlegend=index == 0,
        )
        figure.add_annotation(
            x=change.day,
            xref="x",
            y=0.02,
            yref="paper",
            xanchor="left",
            yanchor="bottom",
            text=change.phase_name,
            showarrow=False,
            textangle=-90,
            font={"size": 11, "color": "#7a3d63"},
        )
    if alerts:
        figure.add_trace(
            go.Scatter(
                name="Alert opened",
                x=[alert.opened_at.astimezone(zone).date() for alert in alerts],
                y=[ALERT_MARKER_Y] * len(alerts),
                mode="markers",
                marker={"symbol": "triangle-down", "size": 13, "color": BLACK},
                customdata=[[alert.get_kind_display(), alert.message] for alert in alerts],
                hovertemplate="%{x|%d %b %Y}<br><b>%{customdata[0]}</b><br>"
                "%{customdata[1]}<extra></extra>",
            )
        )
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


def adherence_figure(adherence: PrescriptionAdherence) -> go.Figure:
    """A calendar heatmap (weekday × week) of sessions planned vs done, over weekly adherence
    bars with the clinic's on-track line; both share the week axis."""
    figure = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        row_heights=[0.55, 0.45],
    )
    figure.update_layout(
        template=TEMPLATE,
        title={"text": "Adherence: sessions done against the plan"},
        height=560,
        bargap=0.25,
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
    classes = len(CALENDAR_CLASSES)
    colorscale = []
    for index, (_, colour) in enumerate(CALENDAR_CLASSES):
        colorscale += [[index / classes, colour], [(index + 1) / classes, colour]]
    figure.add_trace(
        go.Heatmap(
            name="Sessions per day",
            x=mondays,
            y=list(WEEKDAYS),
            z=cells,
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            zmin=-0.5,
            zmax=classes - 0.5,
            colorscale=colorscale,
            xgap=3,
            ygap=3,
            colorbar={
                "tickvals": list(range(classes)),
                "ticktext": [label for label, _ in CALENDAR_CLASSES],
                "len": 0.5,
                "y": 1.0,
                "yanchor": "top",
                "thickness": 12,
                "outlinewidth": 0,
            },
        ),
        row=1,
        col=1,
    )
    groups: dict[str, list[WeekAdherence]] = {}
    for week in adherence.weeks:
        if week.ratio is not None:
            groups.setdefault(_week_group(week), []).append(week)
    colours = {"On track": GREEN, "Below on-track": ORANGE, "Week in progress": GREY}
    for name in colours:
        weeks = groups.get(name, [])
        if not weeks:
            continue
        figure.add_trace(
            go.Bar(
                name=name,
                x=[week.start for week in weeks],
                y=[round((week.ratio or 0) * 100, 1) for week in weeks],
                width=[7 * DAY_MS * 0.7] * len(weeks),
                marker={
                    "color": colours[name],
                    "pattern": {"shape": "/" if name == "Week in progress" else ""},
                },
                text=[percent(week.ratio) for week in weeks],
                textposition="outside",
                cliponaxis=False,
                customdata=[
                    [week.iso_week, week.sessions_done, f"{week.sessions_planned:g}"]
                    for week in weeks
                ],
                hovertemplate="%{customdata[0]} (week of %{x|%d %b})<br>%{customdata[1]} of "
                "%{customdata[2]} planned sessions: %{y:.0f}%<extra></extra>",
            ),
            row=2,
            col=1,
        )
    threshold = adherence.on_track_threshold
    figure.add_shape(
        type="line",
        xref="x2 domain",
        x0=0,
        x1=1,
        yref="y2",
        y0=threshold * 100,
        y1=threshold * 100,
        line={"color": BLACK, "width": 1.5, "dash": "dash"},
        name=f"On-track line ({threshold:.0%})",
        showlegend=True,
    )
    figure.update_yaxes(
        title_text="Sessions per day", autorange="reversed", showgrid=False, row=1, col=1
    )
    figure.update_yaxes(title_text="Weekly adherence (%)", range=[0, 115], row=2, col=1)
    figure.update_xaxes(showgrid=False, row=1, col=1)
    # Ticks on Mondays (Plotly's weekly ticks fall on Sundays), at most about a dozen.
    every = max(1, -(-len(mondays) // 12))
    figure.update_xaxes(
        title_text="Week starting (Monday)",
        tickformat="%d %b",
        tick0=mondays[0] if mondays else None,
        dtick=7 * DAY_MS * every,
        row=2,
        col=1,
    )
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
