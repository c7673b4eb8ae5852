"""Clinic analytics charts: adherence distribution, pain change by protocol, alerts per week."""

import textwrap
from collections.abc import Mapping, Sequence

from programs.models import Alert
from programs.selectors import AlertWeek

from .common import (
    BAND,
    BLACK,
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    PURPLE,
    SKY_BLUE,
    VERMILLION,
    DataTable,
    Figure,
    day_label,
    new_figure,
    no_data,
)

HISTOGRAM_BIN = 10  # percentage points
NPRS_MCID_POINTS = 2.0
ALERT_COLOURS = {
    Alert.Kind.RED_FLAG: VERMILLION,
    Alert.Kind.PAIN_SPIKE: ORANGE,
    Alert.Kind.LOW_ADHERENCE: SKY_BLUE,
    Alert.Kind.INACTIVE: GREY,
    Alert.Kind.SCORE_DECLINE: PURPLE,
}


def adherence_histogram_counts(ratios: Sequence[float]) -> list[int]:
    """Patients per 10-point adherence bin, 0–10% … 90–100% (100% falls in the last bin)."""
    bins = 100 // HISTOGRAM_BIN
    counts = [0] * bins
    for ratio in ratios:
        counts[min(bins - 1, max(0, int(ratio * 100 + 1e-9) // HISTOGRAM_BIN))] += 1
    return counts


def _bin_label(index: int) -> str:
    return f"{index * HISTOGRAM_BIN}–{(index + 1) * HISTOGRAM_BIN}%"


def adherence_histogram_figure(
    ratios: Sequence[float], *, on_track: float, alert_below: float, window_days: int
) -> Figure:
    figure = new_figure(
        "Adherence across active patients",
        height=460,
        bargap=0.06,
        xaxis={
            "title": {"text": f"Adherence over the last {window_days} days (% of planned)"},
            "range": [0, 100],
            "dtick": HISTOGRAM_BIN,
            "ticksuffix": "%",
        },
        yaxis={"title": {"text": "Patients"}, "rangemode": "tozero", "tickformat": "d"},
    )
    counts = adherence_histogram_counts(ratios)
    zones = (
        (f"Below the alert threshold ({alert_below:.0%})", VERMILLION, 0.0, alert_below),
        (f"Below on-track ({on_track:.0%})", ORANGE, alert_below, on_track),
        ("On track", GREEN, on_track, 1.01),
    )
    for name, colour, low, high in zones:
        indexes = [i for i in range(len(counts)) if low * 100 <= i * HISTOGRAM_BIN < high * 100]
        if not indexes:
            continue
        figure["data"].append(
            {
                "customdata": [_bin_label(i) for i in indexes],
                "hovertemplate": "%{customdata}: %{y} patients<extra></extra>",
                "marker": {"color": colour},
                "name": name,
                "width": HISTOGRAM_BIN * 0.94,
                "x": [i * HISTOGRAM_BIN + HISTOGRAM_BIN / 2 for i in indexes],
                "y": [counts[i] for i in indexes],
                "type": "bar",
            }
        )
    figure["layout"]["shapes"] = [
        {
            "line": {"color": BLACK, "dash": "dash", "width": 1.5},
            "name": f"On-track line ({on_track:.0%})",
            "showlegend": True,
            "type": "line",
            "x0": on_track * 100,
            "x1": on_track * 100,
            "xref": "x",
            "y0": 0,
            "y1": 1,
            "yref": "paper",
        }
    ]
    if not ratios:
        no_data(figure, "No active patient has sessions planned in the window")
    return figure


def adherence_histogram_table(ratios: Sequence[float]) -> DataTable:
    counts = adherence_histogram_counts(ratios)
    return DataTable(
        caption="Active patients per adherence band",
        columns=("Adherence", "Patients"),
        rows=[(_bin_label(i), str(count)) for i, count in enumerate(counts)],
    )


def pain_change_figure(changes_by_protocol: Mapping[str, Sequence[float]]) -> Figure:
    """Box plot per protocol of (current 7-day mean − first-week baseline) pain, all points."""
    figure = new_figure(
        "Change in pain since the first week, by protocol",
        height=460,
        xaxis={"title": {"text": "Protocol"}, "automargin": True, "tickangle": 0},
        yaxis={
            "title": {"text": "Change in pain (NPRS points)"},
            "zeroline": True,
            "zerolinecolor": "#9aa5b1",
        },
    )
    figure["layout"]["shapes"] = [
        {
            "fillcolor": BAND,
            "layer": "below",
            "line": {"width": 0},
            "name": f"Within the NPRS MCID (±{NPRS_MCID_POINTS:g} points); below 0 = less pain",
            "showlegend": True,
            "type": "rect",
            "x0": 0,
            "x1": 1,
            "xref": "paper",
            "y0": -NPRS_MCID_POINTS,
            "y1": NPRS_MCID_POINTS,
            "yref": "y",
        }
    ]
    for protocol, changes in changes_by_protocol.items():
        figure["data"].append(
            {
                "boxmean": True,
                "boxpoints": "all",
                "fillcolor": "rgba(0, 114, 178, 0.12)",
                "hovertemplate": "%{y:+.1f} points<extra>" + protocol + "</extra>",
                "jitter": 0.4,
                "line": {"color": BLUE},
                "marker": {"color": BLUE, "opacity": 0.75, "size": 6},
                "name": "<br>".join(textwrap.wrap(protocol, 16)),
                "pointpos": 0,
                "showlegend": False,
                "y": list(changes),
                "type": "box",
            }
        )
    if not changes_by_protocol:
        no_data(figure, "No program has a week of pain scores yet")
    return figure


def pain_change_table(changes_by_protocol: Mapping[str, Sequence[float]]) -> DataTable:
    rows = []
    for protocol, changes in changes_by_protocol.items():
        ordered = sorted(changes)
        middle = len(ordered) // 2
        median = (
            ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        )
        improved = sum(change <= -NPRS_MCID_POINTS for change in ordered)
        rows.append(
            (
                protocol,
                str(len(ordered)),
                f"{median:+.1f}",
                f"{ordered[0]:+.1f} to {ordered[-1]:+.1f}",
                str(improved),
            )
        )
    return DataTable(
        caption="Change in pain from the first-week baseline (NPRS points), per program",
        columns=("Protocol", "Programs", "Median change", "Range", "Improved by ≥ 2 points"),
        rows=rows,
    )


def alerts_per_week_figure(weeks: Sequence[AlertWeek]) -> Figure:
    figure = new_figure(
        "Alerts opened per week",
        height=400,
        barmode="stack",
        xaxis={"title": {"text": "Week starting (Monday)"}, "type": "date", "tickformat": "%d %b"},
        yaxis={"title": {"text": "Alerts opened"}, "rangemode": "tozero", "tickformat": "d"},
    )
    for kind, label in Alert.Kind.choices:
        counts = [week.by_kind.get(kind, 0) for week in weeks]
        if not any(counts):
            continue
        figure["data"].append(
            {
                "hovertemplate": f"Week of %{{x|%d %b}}<br>{label}: %{{y}}<extra></extra>",
                "marker": {"color": ALERT_COLOURS.get(kind, GREY)},
                "name": label,
                "x": [week.week_start for week in weeks],
                "y": counts,
                "type": "bar",
            }
        )
    if max((week.total for week in weeks), default=0) <= 10:
        figure["layout"]["yaxis"]["dtick"] = 1  # whole alerts, not 0.5 steps
    if not any(week.total for week in weeks):
        no_data(figure, f"No alerts opened in the last {len(weeks)} weeks")
    return figure


def alerts_per_week_table(weeks: Sequence[AlertWeek]) -> DataTable:
    kinds = Alert.Kind.choices
    return DataTable(
        caption="Alerts opened per week, by kind",
        columns=("Week starting", *(label for _, label in kinds), "Total"),
        rows=[
            (
                day_label(week.week_start),
                *(str(week.by_kind.get(kind, 0)) for kind, _ in kinds),
                str(week.total),
            )
            for week in weeks
        ],
    )
