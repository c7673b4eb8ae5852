"""One patient's outcome scores over time, per instrument, with the MCID band."""

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from patients import instruments
from patients.selectors import MeasureSeries

from .common import BAND, BLUE, GREEN, TEMPLATE, DataTable, day_label, no_data


def outcome_mcid(series: MeasureSeries) -> float | None:
    """The instrument's MCID around the first score (NPRS: 2 points or 30% of it)."""
    if series.baseline is None:
        return None
    return instruments.score_change(series.instrument, series.baseline, series.baseline).threshold


def outcome_scores_figure(
    measures: Sequence[MeasureSeries], *, zone: dt.tzinfo = dt.UTC
) -> go.Figure:
    """Scores over time, one panel per instrument, with the MCID band around the first score."""
    rows = max(1, len(measures))
    figure = make_subplots(rows=rows, cols=1, vertical_spacing=0.2 / rows if rows > 1 else 0.1)
    figure.update_layout(
        template=TEMPLATE,
        title={"text": "Outcome scores, with the MCID band around the first score"},
        height=320 + 240 * (rows - 1),
    )
    for row, series in enumerate(measures, start=1):
        suffix = "" if row == 1 else str(row)
        mcid = outcome_mcid(series)
        if series.baseline is not None and mcid is not None:
            figure.add_shape(
                type="rect",
                xref=f"x{suffix} domain",
                x0=0,
                x1=1,
                yref=f"y{suffix}",
                y0=max(series.score_min, series.baseline - mcid),
                y1=min(series.score_max, series.baseline + mcid),
                fillcolor=BAND,
                line={"width": 0},
                layer="below",
                name=f"First score ± MCID ({mcid:g})",
                legendgroup=f"mcid-{series.instrument}",
                showlegend=True,
            )
        if series.pass_threshold is not None:
            figure.add_shape(
                type="line",
                xref=f"x{suffix} domain",
                x0=0,
                x1=1,
                yref=f"y{suffix}",
                y0=series.pass_threshold,
                y1=series.pass_threshold,
                line={"color": GREEN, "width": 1.5, "dash": "dot"},
                name=f"Acceptable symptom state ({series.pass_threshold:g})",
                showlegend=True,
            )
        figure.add_trace(
            go.Scatter(
                name=series.name,
                x=[point.taken_at.astimezone(zone).date() for point in series.points],
                y=[point.score for point in series.points],
                mode="lines+markers",
                line={"color": BLUE, "width": 2.5},
                marker={"size": 9, "color": BLUE},
                hovertemplate=f"{series.name}<br>%{{x|%d %b %Y}}: %{{y:.1f}}<extra></extra>",
            ),
            row=row,
            col=1,
        )
        better = "higher" if series.higher_is_better else "lower"
        pad = (series.score_max - series.score_min) * 0.04
        short_name = series.instrument.replace("_", " ").upper()
        figure.update_yaxes(
            title_text=f"{short_name} ({series.score_min:g}–{series.score_max:g}, "
            f"{better} is better)",
            range=[series.score_min - pad, series.score_max + pad],
            row=row,
            col=1,
        )
    days = [point.taken_at.astimezone(zone).date() for s in measures for point in s.points]
    if days and (max(days) - min(days)).days < 28:
        # A single score (or a few close together) would zoom the axis in to milliseconds.
        middle = min(days) + (max(days) - min(days)) / 2
        span = [middle - dt.timedelta(days=21), middle + dt.timedelta(days=21)]
        figure.update_xaxes(range=span)
    figure.update_xaxes(type="date", tickformat="%d %b")
    figure.update_xaxes(title_text="Date taken", row=rows, col=1)
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
