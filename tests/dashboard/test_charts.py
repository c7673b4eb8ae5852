"""Figure builders on plain data: no database (pytest-django refuses any query here)."""

import datetime as dt
import json

import plotly.graph_objects as go
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


def shapes_named(figure: charts.Figure, prefix: str) -> list[dict]:
    shapes = figure["layout"].get("shapes", [])
    return [shape for shape in shapes if shape.get("name", "").startswith(prefix)]


def names(figure: charts.Figure) -> list[str]:
    return [trace["name"] for trace in figure["data"]]


def test_pain_figure_traces_and_rolling_mean():
    values = [6, 6, 5, 5, 4, 4, 3, 3, 2]
    figure = charts.pain_trend_figure(pain_trend(values))
    assert names(figure) == ["Before session", "After session", "7-day mean"]
    mean = figure["data"][2]
    # Day 8 averages days 2–8 (7 calendar days): (6+5+5+4+4+3+3) / 7.
    assert mean["y"][7] == pytest.approx(30 / 7)
    assert mean["y"][8] == pytest.approx((5 + 5 + 4 + 4 + 3 + 3 + 2) / 7)
    assert figure["data"][1]["y"] == values
    assert figure["data"][0]["y"] == [v + 1 for v in values]
    assert figure["layout"]["yaxis"]["title"]["text"] == "Pain (NPRS, 0–10)"
    assert figure["layout"]["title"]["text"]


def test_pain_mcid_band_is_the_nprs_threshold_around_the_baseline():
    figure = charts.pain_trend_figure(pain_trend([5, 5, 5], baseline=5.0))
    (band,) = shapes_named(figure, "Baseline ± MCID")
    # NPRS: 2 points or 30% of the baseline, whichever is smaller: 1.5 here.
    assert (band["type"], band["y0"], band["y1"]) == ("rect", 3.5, 6.5)
    assert (band["xref"], band["x0"], band["x1"]) == ("paper", 0, 1)
    (baseline,) = shapes_named(figure, "Baseline 5.0")
    assert baseline["y0"] == baseline["y1"] == 5.0

    high = charts.pain_trend_figure(pain_trend([9, 9], baseline=9.0))
    (band,) = shapes_named(high, "Baseline ± MCID")
    assert (band["y0"], band["y1"]) == (7.0, 10.0)  # 2 points, clipped at the top of the scale


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
    assert [m["x0"] for m in markers] == [c.day for c in changes]
    assert all(m["x0"] == m["x1"] for m in markers)
    assert all((m["yref"], m["y0"], m["y1"]) == ("paper", 0, 1) for m in markers)
    assert [m["showlegend"] for m in markers] == [True, False]  # one legend entry
    annotations = figure["layout"]["annotations"]
    assert {a["text"] for a in annotations} == {c.phase_name for c in changes}
    alerts = figure["data"][3]
    assert alerts["name"] == "Alert opened"
    assert alerts["x"] == [dt.date(2025, 3, 5)]
    assert alerts["customdata"][0][0] == "Pain spike"


def test_empty_pain_figure_says_so():
    figure = charts.pain_trend_figure(PainTrend())
    assert len(figure["data"]) == 3
    assert figure["layout"]["annotations"][0]["text"] == "No pain scores logged yet"


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
    heatmap, *bars = figure["data"]
    assert heatmap["type"] == "heatmap"
    assert heatmap["x"] == [START, START + dt.timedelta(days=7)]
    assert heatmap["y"] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    # 0 not planned, 1 no session, 2 one session, 3 two or more; None: outside the program.
    assert heatmap["z"][0] == [2, 3]
    assert heatmap["z"][1] == [1, None]
    assert heatmap["z"][2] == [0, None]
    assert [bar["name"] for bar in bars] == ["On track", "Week in progress"]
    assert bars[0]["y"] == [100.0]
    assert bars[1]["y"] == [40.0]
    assert [(bar["xaxis"], bar["yaxis"]) for bar in bars] == [("x2", "y2")] * 2
    (line,) = shapes_named(figure, "On-track line")
    assert line["y0"] == line["y1"] == 80.0
    assert (line["xref"], line["yref"]) == ("x2 domain", "y2")
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
    assert names(figure) == ["HOOS JR", "NPRS"]
    assert (figure["data"][0]["yaxis"], figure["data"][1]["yaxis"]) == ("y", "y2")
    bands = [shape for shape in figure["layout"]["shapes"] if shape["type"] == "rect"]
    assert [(b["yref"], b["y0"], b["y1"]) for b in bands] == [("y", 42.0, 58.0), ("y2", 3.5, 6.5)]
    assert [s["y0"] for s in shapes_named(figure, "Acceptable symptom state")] == [76.7]
    assert "higher is better" in figure["layout"]["yaxis"]["title"]["text"]
    assert "lower is better" in figure["layout"]["yaxis2"]["title"]["text"]
    table = charts.outcome_scores_table(measures)
    assert table.rows[1][-1] == "better by the MCID or more"
    assert table.rows[3][-1] == "better by the MCID or more"


def test_outcome_band_is_clipped_to_the_scale():
    figure = charts.outcome_scores_figure([series("hoos_jr", [96.0])])
    (band,) = [shape for shape in figure["layout"]["shapes"] if shape["type"] == "rect"]
    assert (band["y0"], band["y1"]) == (88.0, 100.0)


def test_adherence_histogram_bins_include_full_adherence():
    ratios = [0.05, 0.45, 0.5, 0.79, 0.8, 0.95, 1.0, 1.0]
    assert charts.adherence_histogram_counts(ratios) == [1, 0, 0, 0, 1, 1, 0, 1, 1, 3]
    figure = charts.adherence_histogram_figure(
        ratios, on_track=0.8, alert_below=0.5, window_days=14
    )
    assert names(figure) == [
        "Below the alert threshold (50%)",
        "Below on-track (80%)",
        "On track",
    ]
    assert sum(sum(trace["y"]) for trace in figure["data"]) == len(ratios)
    (line,) = shapes_named(figure, "On-track line")
    assert line["x0"] == 80.0


def test_pain_change_box_per_protocol_and_alerts_stacked_by_kind():
    figure = charts.pain_change_figure({"Hip OA": [-3.0, -1.0], "Total hip": [-2.5]})
    assert [trace["type"] for trace in figure["data"]] == ["box", "box"]
    assert figure["data"][0]["y"] == [-3.0, -1.0]
    (band,) = shapes_named(figure, "Within the NPRS MCID")
    assert (band["y0"], band["y1"]) == (-2.0, 2.0)
    table = charts.pain_change_table({"Hip OA": [-3.0, -1.0]})
    assert table.rows == [("Hip OA", "2", "-2.0", "-3.0 to -1.0", "1")]

    weeks = [
        AlertWeek(week_start=START, by_kind={"red_flag": 1, "pain_spike": 2}),
        AlertWeek(week_start=START + dt.timedelta(days=7), by_kind={}),
    ]
    alerts = charts.alerts_per_week_figure(weeks)
    assert alerts["layout"]["barmode"] == "stack"
    assert {trace["name"]: trace["y"] for trace in alerts["data"]} == {
        "Pain spike": [2, 0],
        "Red flag": [1, 0],
    }
    assert charts.alerts_per_week_table(weeks).rows[0][-1] == "3"


def test_chart_colours_are_okabe_ito():
    figure = charts.pain_trend_figure(pain_trend([5, 4, 3]))
    palette = {colour.upper() for colour in charts.OKABE_ITO.values()}
    colours = {(trace.get("marker") or trace["line"])["color"] for trace in figure["data"]}
    assert colours <= palette


def test_embedded_json_cannot_close_the_script_element():
    figure = charts.pain_trend_figure(PainTrend())
    figure["layout"]["title"] = {"text": "</script><script>alert(1)</script>"}
    chart = charts.Chart("chart-x", figure, charts.pain_trend_table(PainTrend()))
    assert "<" not in chart.figure_json
    assert "alert(1)" in chart.figure_json


def test_pain_figure_spec_for_three_hand_computed_days():
    # Before = after + 1; the 7-day mean on day 3 is (6 + 4 + 5) / 3 = 5.
    figure = charts.pain_trend_figure(pain_trend([6, 4, 5], baseline=5.0))
    days = [START, START + dt.timedelta(days=1), START + dt.timedelta(days=2)]
    before, after, mean = figure["data"]
    assert before == {
        "hovertemplate": "%{x|%a %d %b %Y}<br>Pain before: %{y:.1f}/10<extra></extra>",
        "marker": {"color": "#56B4E9", "line": {"width": 2}, "size": 8, "symbol": "circle-open"},
        "mode": "markers",
        "name": "Before session",
        "x": days,
        "y": [7, 5, 6],
        "type": "scatter",
    }
    assert (after["name"], after["x"], after["y"]) == ("After session", days, [6, 4, 5])
    assert after["marker"] == {"color": "#D55E00", "size": 7, "symbol": "diamond"}
    assert (mean["name"], mean["mode"], mean["x"]) == ("7-day mean", "lines", days)
    assert mean["y"] == [6.0, 5.0, 5.0]
    assert mean["line"] == {"color": "#0072B2", "width": 3}
    layout = figure["layout"]
    assert layout["title"] == {"text": "Pain before and after sessions, with the 7-day mean"}
    assert layout["height"] == 440
    assert layout["yaxis"]["range"] == [-0.3, 10.6]
    assert layout["template"]["layout"]["colorway"][0] == charts.OKABE_ITO["blue"]
    # NPRS MCID around a baseline of 5: 30% of it (1.5 points), smaller than 2 points.
    band, line = layout["shapes"]
    assert (band["name"], band["y0"], band["y1"]) == ("Baseline ± MCID (1.5 points)", 3.5, 6.5)
    assert (line["name"], line["y0"], line["y1"]) == ("Baseline 5.0", 5.0, 5.0)
    assert "annotations" not in layout  # no phase change, there is data


def test_figure_json_is_compact_and_dates_are_iso():
    figure = charts.pain_trend_figure(pain_trend([6], baseline=None))
    text = charts.figure_json(figure)
    assert '"x":["2025-03-03"]' in text
    assert "NPRS, 0–10" in text  # UTF-8, not \u escapes: the page is UTF-8


def _every_figure() -> list[charts.Figure]:
    changes = [PhaseChange(day=START + dt.timedelta(days=2), phase_name="Moderate protection")]
    alert = Alert(
        kind=Alert.Kind.RED_FLAG,
        severity=Alert.Severity.URGENT,
        message="Calf <swelling> & pain",
        opened_at=dt.datetime(2025, 3, 5, 12, tzinfo=dt.UTC),
    )
    days = [DayPlan(day=START + dt.timedelta(days=n), planned=5 / 7, done=n % 3) for n in range(9)]
    weeks = [week(START, 5, 5), week(START + dt.timedelta(days=7), 5, 1, complete=False)]
    return [
        charts.pain_trend_figure(
            pain_trend([5, 6, 4, 3, 5]), phase_changes=changes, alerts=[alert], zone=NY
        ),
        charts.pain_trend_figure(PainTrend()),
        charts.adherence_figure(adherence(days, weeks)),
        charts.adherence_figure(adherence([], [])),
        charts.outcome_scores_figure([series("hoos_jr", [50.0, 61.0]), series("nprs", [5.0])]),
        charts.outcome_scores_figure([]),
        charts.adherence_histogram_figure(
            [0.2, 0.9], on_track=0.8, alert_below=0.5, window_days=14
        ),
        charts.pain_change_figure({"Hip OA": [-3.0, -1.0]}),
        charts.alerts_per_week_figure([AlertWeek(week_start=START, by_kind={"red_flag": 2})]),
    ]


@pytest.mark.parametrize("index", range(len(_every_figure())))
def test_figure_specs_are_valid_plotly_and_plotly_would_change_nothing(index):
    """Plotly's own validators accept every property, and write back the same JSON.

    The builders skip `plotly.graph_objects` at run time (its validation and copying were most
    of the patient page's CPU); this keeps the specs to what Plotly would have produced.
    """
    spec = json.loads(charts.figure_json(_every_figure()[index]))
    validated = go.Figure(spec)  # raises on an unknown property or an invalid value
    assert json.loads(validated.to_json()) == spec
