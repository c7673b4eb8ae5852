"""Clinic overview: who needs attention, then every patient's progress at a glance."""

from collections.abc import Callable
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.audit import audit_record
from clinic.models import AuditEvent
from patients.models import Patient
from programs.models import Alert, Prescription
from programs.selectors import (
    OPEN_STATUSES,
    SEVERITY_RANK,
    OverviewRow,
    clinic_open_alert_counts,
    clinic_open_alerts,
    clinic_overview,
)

from ..access import StaffRequest, practitioner_required
from ..forms import OverviewFilterForm
from .common import page_links

PAGE_SIZE = 25
ATTENTION_LIMIT = 8
TREND_ORDER = {"improving": 0, "stable": 1, "worsening": 2}

# Column → (sort key, direction of the first click). A key of None sorts last either way.
SORTS: dict[str, tuple[Callable[[OverviewRow], Any], str]] = {
    "name": (
        lambda row: (row.patient.last_name.casefold(), row.patient.first_name.casefold()),
        "asc",
    ),
    "therapist": (lambda row: row.patient.therapist.display_name.casefold(), "asc"),
    "program": (lambda row: row.protocol_name.casefold() or None, "asc"),
    "phase": (lambda row: row.phase_name.casefold() or None, "asc"),
    "weeks": (lambda row: row.weeks_since_start, "desc"),
    "adherence": (lambda row: row.adherence_recent, "asc"),
    "last_session": (lambda row: row.last_session_on, "asc"),
    "pain": (lambda row: row.latest_pain, "desc"),
    "trend": (lambda row: TREND_ORDER.get(row.pain_direction or ""), "desc"),
    "alerts": (
        lambda row: (
            (-SEVERITY_RANK[row.top_severity], row.open_alerts) if row.top_severity else None
        ),
        "desc",
    ),
}
DEFAULT_SORT = "alerts"
# Table columns; one column may hold two sortable values (program, then its phase).
COLUMNS = (
    (("name", "Patient"),),
    (("program", "Program"), ("phase", "phase")),
    (("weeks", "Weeks"),),
    (("adherence", "Adherence"),),
    (("last_session", "Last session"),),
    (("pain", "Pain"),),
    (("trend", "Trend"),),
    (("alerts", "Alerts"),),
    (("therapist", "Therapist"),),
)


def filtered_patients(request: StaffRequest, form: OverviewFilterForm) -> QuerySet[Patient]:
    patients = Patient.objects.filter(clinic=request.clinic).select_related("therapist__user")
    status = form.value("status") or "active"
    if status in (Patient.Status.ACTIVE, Patient.Status.DISCHARGED):
        patients = patients.filter(status=status)
    elif status == "paused":
        paused = Prescription.objects.filter(
            patient=OuterRef("pk"), status=Prescription.Status.PAUSED
        )
        patients = patients.filter(Exists(paused))
    for term in (form.value("q") or "").split()[:5]:
        patients = patients.filter(
            Q(first_name__icontains=term) | Q(last_name__icontains=term) | Q(email__icontains=term)
        )
    if therapist := form.value("therapist"):
        patients = patients.filter(therapist=therapist)
    if protocol := form.value("protocol"):
        on_protocol = Prescription.objects.filter(
            patient=OuterRef("pk"), protocol=protocol, status__in=OPEN_STATUSES
        )
        patients = patients.filter(Exists(on_protocol))
    open_alert = Exists(Alert.objects.filter(patient=OuterRef("pk"), acknowledged_at__isnull=True))
    if form.value("alerts") == "open":
        patients = patients.filter(open_alert)
    elif form.value("alerts") == "none":
        patients = patients.exclude(open_alert)
    return patients


def sort_rows(rows: list[OverviewRow], column: str, descending: bool) -> list[OverviewRow]:
    """Sort by a column, empty values last in both directions, then by name."""
    by_name = sorted(rows, key=SORTS["name"][0])
    key = SORTS[column][0]
    present = [row for row in by_name if key(row) is not None]
    missing = [row for row in by_name if key(row) is None]
    return sorted(present, key=key, reverse=descending) + missing


@require_GET
@practitioner_required
def overview(request: StaffRequest) -> HttpResponse:
    data = request.GET.copy()
    data.setdefault("status", "active")
    form = OverviewFilterForm(data, clinic=request.clinic)
    form.is_valid()  # invalid filters are ignored: `value()` gives None for them
    column = request.GET.get("sort", DEFAULT_SORT)
    if column not in SORTS:
        column = DEFAULT_SORT
    direction = request.GET.get("dir") or SORTS[column][1]
    direction = direction if direction in ("asc", "desc") else SORTS[column][1]

    # Computed columns (adherence, pain, alerts) are sortable, so rows are computed for the
    # whole filtered set in a fixed number of queries, then sorted and paginated in Python:
    # fine for a clinic of up to a few thousand patients.
    rows = clinic_overview(request.clinic, patients=filtered_patients(request, form))
    rows = sort_rows(rows, column, descending=direction == "desc")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    attention = list(clinic_open_alerts(request.clinic)[:ATTENTION_LIMIT])
    shown = [row.patient.pk for row in page] + [alert.patient_id for alert in attention]
    audit_record(request, action=AuditEvent.Action.LIST, object_type="patient", patient_ids=shown)

    headers = []
    for sortables in COLUMNS:
        links = []
        for key, label in sortables:
            current = key == column
            flipped = "asc" if direction == "desc" else "desc"
            links.append(
                {
                    "key": key,
                    "label": label,
                    "current": current,
                    "direction": direction if current else "",
                    "next_direction": flipped if current else SORTS[key][1],
                }
            )
        sorted_here = any(link["current"] for link in links)
        headers.append(
            {
                "key": sortables[0][0],
                "links": links,
                "aria_sort": ("ascending" if direction == "asc" else "descending")
                if sorted_here
                else "none",
            }
        )
    return render(
        request,
        "dashboard/overview.html",
        {
            "form": form,
            "page": page,
            "page_links": page_links(request, page, "page"),
            "headers": headers,
            "sort": column,
            "direction": direction,
            "attention": attention,
            "alert_counts": clinic_open_alert_counts(request.clinic),
            "clinic": request.clinic,
            "on_track": float(request.clinic.adherence_on_track),
            "alert_below": float(request.clinic.adherence_alert_below),
        },
    )
