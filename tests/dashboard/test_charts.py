"""Figure builders on plain data: no database (pytest-django refuses any query here)."""

import datetime as dt

import pytest

from clinic.dashboard import charts
from patients.selectors import MeasurePoint, MeasureSeries
from programs.adherence import AdherenceWindow, DayPlan, PrescriptionAdherence, WeekAdherence
from programs.models import Alert
from programs.pain import PainDay, PainTrend, rolling_means
from programs.selectors import AlertWeek, PhaseChange

START = dt.date(2025, 3, 3)  # a Monday
NY = dt.timezone(dt.timedelta(hours=-5))


def pain_trend(values: list[float], baseline: float | None = 5.0, **fields) -> PainTrend:
    series = [(START + dt.timedelta(days=i), v, 1) for i, v in enumerate(values)]
    means = rolling_means(series, 7)
    days = [
        PainDay(day=day, before=value + 1, after=value, value=value, sessions=1, rolling_mean=mean)
        for (day, value, _), mean in zip(series, means, strict=True)
    ]
    return PainTrend(days=days, baseline=baseline, current=means[-1] if means else None, **fields)


def shapes_named(figure, prefix: str) -> list:
    return [shape for shape in figure.layout.shapes if (shape.name or "").startswith(prefix)]


def test_pain_figure_traces_and_rolling_mean():
    values = [6, 6, 5, 5, 4, 4, 3, 3, 2]
    figure = charts.pain_trend_figure(pain_trend(values))
    assert [trace.name for trace in figure.data] == [
        "Before session",
        "After session",
        "7-day mean",
    ]
    mean = figure.data[2]
    # Day 8 averages days 2–8 (7 calendar days): (6+5+5+4+4+3+3) / 7.
    assert mean.y[7] == pytest.approx(30 / 7)
    assert mean.y[8] == pytest.approx((5 + 5 + 4 + 4 + 3 + 3 + 2) / 7)
    assert list(figure.data[1].y) == values
    assert list(figure.data[0].y) == [v + 1 for v in values]
    assert figure.layout.yaxis.title.text == "Pain (NPRS, 0–10)"
    assert figure.layout.title.text


def test_pain_mcid_band_is_the_nprs_threshold_around_the_baseline():
    figure = charts.pain_trend_figure(pain_trend([5, 5, 5], baseline=5.0))
    (band,) = shapes_named(figure, "Baseline ± MCID")
    # NPRS: 2 points or 30% of the baseline, whichever is smaller: 1.5 here.
    assert (band.type, band.y0, band.y1) == ("rect", 3.5, 6.5)
    assert (band.xref, band.x0, band.x1) == ("paper", 0, 1)
    (baseline,) = shapes_named(figure, "Baseline 5.0")
    assert baseline.y0 == baseline.y1 == 5.0

    high = charts.pain_trend_figure(pain_trend([9, 9], baseline=9.0))
    (band,) = shapes_named(high, "Baseline ± MCID")
    assert (band.y0, band.y1) == (7.0, 10.0)  # 2 points, clipped at the top of the scale


def test_pain_figure_without_baseline_has_no_band():
    figure = charts.pain_trend_figure(pain_trend([4, 4], baseline=None))
    assert shapes_named(figure, "Baseline") == []


def test_phase_change_markers_and_alert_markers():
    changes = [
        PhaseChange(day=START + dt.timedelta(days=2), phase_name="Moderate protection"),
        PhaseChange(day=START + dt.timedelta(days=5), phase_name="Minimum protection"),
    ]
    alert = Alert(
        kind=Alert.Kind.PAIN_SPIKE,
        severity=Alert.Severity.WARNING,
        message="Pain spike: 8/10",
        opened_at=dt.datetime(2025, 3, 6, 2, 0, tzinfo=dt.UTC),  # evening of 5 March in NY
    )
    figure = charts.pain_trend_figure(
        pain_trend([5, 5, 5, 5, 5, 5, 5]), phase_changes=changes, alerts=[alert], zone=NY
    )
    markers = shapes_named(figure, "Phase change")
    assert [m.x0 for m in markers] == [c.day for c in changes]
    assert all(m.x0 == m.x1 and (m.yref, m.y0, m.y1) == ("paper", 0, 1) for m in markers)
    assert [m.showlegend for m in markers] == [True, False]  # one legend entry
    assert {a.text for a in figure.layout.annotations} == {c.phase_name for c in changes}
    alerts = figure.data[3]
    assert alerts.name == "Alert opened"
    assert list(alerts.x) == [dt.date(2025, 3, 5)]
    assert alerts.customdata[0][0] == "Pain spike"


def test_empty_pain_figure_says_so():
    figure = charts.pain_trend_figure(PainTrend())
    assert len(figure.data) == 3
    assert figure.layout.annotations[0].text == "No pain scores logged yet"


def adherence(days: list[DayPlan], weeks: list[WeekAdherence]) -> PrescriptionAdherence:
    window = AdherenceWindow(start=START, end=START, sessions_planned=0, sessions_done=0)
    return PrescriptionAdherence(
        prescription_id=1,
        today=START + dt.timedelta(days=len(days)),
        on_track_threshold=0.8,
        overall=window,
        recent=window,
        current_phase=None,
        days=days,
        weeks=weeks,
    )


def week(monday: dt.date, planned: float, done: int, *, complete: bool = True) -> WeekAdherence:
    ratio = min(1.0, done / planned)
    return WeekAdherence(
        start=monday,
        end=monday + dt.timedelta(days=7),
        sessions_planned=planned,
        sessions_done=done,
        iso_week=f"2025-W{monday.isocalendar()[1]:02d}",
        complete=complete,
        on_track=ratio >= 0.8,
    )


def test_adherence_calendar_and_weekly_bars():
    days = [
        DayPlan(day=START, planned=5 / 7, done=1),  # Monday, week 1
        DayPlan(day=START + dt.timedelta(days=1), planned=5 / 7, done=0),
        DayPlan(day=START + dt.timedelta(days=2), planned=0, done=0),  # paused
        DayPlan(day=START + dt.timedelta(days=7), planned=5 / 7, done=2),  # Monday, week 2
    ]
    weeks = [week(START, 5, 5), week(START + dt.timedelta(days=7), 5, 2, complete=False)]
    figure = charts.adherence_figure(adherence(days, weeks))
    heatmap, *bars = figure.data
    assert heatmap.type == "heatmap"
    assert list(heatmap.x) == [START, START + dt.timedelta(days=7)]
    assert list(heatmap.y) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    # 0 not planned, 1 no session, 2 one session, 3 two or more; None: outside the program.
    assert list(heatmap.z[0]) == [2, 3]
    assert list(heatmap.z[1]) == [1, None]
    assert list(heatmap.z[2]) == [0, None]
    assert [bar.name for bar in bars] == ["On track", "Week in progress"]
    assert list(bars[0].y) == [100.0]
    assert list(bars[1].y) == [40.0]
    (line,) = shapes_named(figure, "On-track line")
    assert line.y0 == line.y1 == 80.0
    assert (line.xref, line.yref) == ("x2 domain", "y2")
    table = charts.adherence_table(adherence(days, weeks))
    assert table.rows[1][-1] == "week in progress"


def series(code: str, scores: list[float], **fields) -> MeasureSeries:
    defaults = {
        "hoos_jr": ("HOOS JR", True, 8.0, 0.0, 100.0, 76.7),
        "nprs": ("NPRS", False, 2.0, 0.0, 10.0, None),
    }[code]
    name, higher, mcid, low, high, passing = defaults
    return MeasureSeries(
        instrument=code,
        name=name,
        higher_is_better=higher,
        mcid=mcid,
        score_min=low,
        score_max=high,
        pass_threshold=passing,
        points=[
            MeasurePoint(
                taken_at=dt.datetime(2025, 3, 3 + 7 * i, 15, tzinfo=dt.UTC), score=s, measure_id=i
            )
            for i, s in enumerate(scores)
        ],
    )


def test_outcome_scores_one_panel_per_instrument_with_mcid_bands():
    measures = [series("hoos_jr", [50.0, 61.0]), series("nprs", [5.0, 3.0])]
    figure = charts.outcome_scores_figure(measures)
    assert [trace.name for trace in figure.data] == ["HOOS JR", "NPRS"]
    assert (figure.data[0].yaxis, figure.data[1].yaxis) == ("y", "y2")
    bands = [shape for shape in figure.layout.shapes if shape.type == "rect"]
    assert [(b.yref, b.y0, b.y1) for b in bands] == [("y", 42.0, 58.0), ("y2", 3.5, 6.5)]
    assert [s.y0 for s in shapes_named(figure, "Acceptable symptom state")] == [76.7]
    assert "higher is better" in figure.layout.yaxis.title.text
    assert "lower is better" in figure.layout.yaxis2.title.text
    table = charts.outcome_scores_table(measures)
    assert table.rows[1][-1] == "better by the MCID or more"
    assert table.rows[3][-1] == "better by the MCID or more"


def test_outcome_band_is_clipped_to_the_scale():
    figure = charts.outcome_scores_figure([series("hoos_jr", [96.0])])
    (band,) = [shape for shape in figure.layout.shapes if shape.type == "rect"]
    assert (band.y0, band.y1) == (88.0, 100.0)


def test_adherence_histogram_bins_include_full_adherence():
    ratios = [0.05, 0.45, 0.5, 0.79, 0.8, 0.95, 1.0, 1.0]
    assert charts.adherence_histogram_counts(ratios) == [1, 0, 0, 0, 1, 1, 0, 1, 1, 3]
    figure = charts.adherence_histogram_figure(
        ratios, on_track=0.8, alert_below=0.5, window_days=14
    )
    assert [trace.name for trace in figure.data] == [
        "Below the alert threshold (50%)",
        "Below on-track (80%)",
        "On track",
    ]
    assert sum(sum(trace.y) for trace in figure.data) == len(ratios)
    (line,) = shapes_named(figure, "On-track line")
    assert line.x0 == 80.0


def test_pain_change_box_per_protocol_and_alerts_stacked_by_kind():
    figure = charts.pain_change_figure({"Hip OA": [-3.0, -1.0], "Total hip": [-2.5]})
    assert [trace.type for trace in figure.data] == ["box", "box"]
    assert list(figure.data[0].y) == [-3.0, -1.0]
    (band,) = shapes_named(figure, "Within the NPRS MCID")
    assert (band.y0, band.y1) == (-2.0, 2.0)
    table = charts.pain_change_table({"Hip OA": [-3.0, -1.0]})
    assert table.rows == [("Hip OA", "2", "-2.0", "-3.0 to -1.0", "1")]

    weeks = [
        AlertWeek(week_start=START, by_kind={"red_flag": 1, "pain_spike": 2}),
        AlertWeek(week_start=START + dt.timedelta(days=7), by_kind={}),
    ]
    alerts = charts.alerts_per_week_figure(weeks)
    assert alerts.layout.barmode == "stack"
    assert {trace.name: list(trace.y) for trace in alerts.data} == {
        "Pain spike": [2, 0],
        "Red flag": [1, 0],
    }
    assert charts.alerts_per_week_table(weeks).rows[0][-1] == "3"


def test_chart_colours_are_okabe_ito():
    figure = charts.pain_trend_figure(pain_trend([5, 4, 3]))
    palette = {colour.upper() for colour in charts.OKABE_ITO.values()}
    assert {trace.marker.color or trace.line.color for trace in figure.data} <= palette


def test_embedded_json_cannot_close_the_script_element():
    figure = charts.pain_trend_figure(PainTrend())
    figure.update_layout(title={"text": "</script><script>alert(1)</script>"})
    chart = charts.Chart("chart-x", figure, charts.pain_trend_table(PainTrend()))
    assert "<" not in chart.figure_json
    assert "alert(1)" in chart.figure_json
