"""Clinic analytics: how the whole caseload is doing."""

import statistics

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from programs.selectors import clinic_analytics

from .. import charts
from ..access import StaffRequest, practitioner_required


@require_GET
@practitioner_required
def analytics(request: StaffRequest) -> HttpResponse:
    data = clinic_analytics(request.clinic)
    ratios = data.adherence_recent
    figures = [
        charts.Chart(
            "chart-adherence-distribution",
            charts.adherence_histogram_figure(
                ratios,
                on_track=data.on_track_threshold,
                alert_below=data.alert_below,
                window_days=data.adherence_window_days,
            ),
            charts.adherence_histogram_table(ratios),
        ),
        charts.Chart(
            "chart-pain-change",
            charts.pain_change_figure(data.pain_change_by_protocol),
            charts.pain_change_table(data.pain_change_by_protocol),
        ),
        charts.Chart(
            "chart-alerts-per-week",
            charts.alerts_per_week_figure(data.alert_weeks),
            charts.alerts_per_week_table(data.alert_weeks),
        ),
    ]
    on_track = sum(ratio >= data.on_track_threshold for ratio in ratios)
    return render(
        request,
        "dashboard/analytics.html",
        {
            "data": data,
            "charts": figures,
            "median_adherence": statistics.median(ratios) if ratios else None,
            "on_track_share": on_track / len(ratios) if ratios else None,
            "alerts_in_period": sum(week.total for week in data.alert_weeks),
        },
    )
