"""Who may use the dashboard: clinic staff (therapists and clinic admins), each scoped to
their own clinic. Patients use the app; a patient's login here gets 403."""

import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from clinic import prepared
from clinic.models import Clinic, Practitioner
from clinic.rows import Columns, column, split_row
from patients.models import Patient

View = Callable[..., HttpResponse]


class StaffRequest(HttpRequest):
    """An `HttpRequest` that went through `practitioner_required`."""

    practitioner: Practitioner
    clinic: Clinic


def practitioner_for(request: HttpRequest) -> Practitioner | None:
    user = request.user
    if not user.is_authenticated:
        return None
    if get_user_model().practitioner.is_cached(user):  # loaded with it (StaffModelBackend)
        return getattr(user, "practitioner", None)
    return Practitioner.objects.select_related("clinic", "user").filter(user_id=user.pk).first()


def practitioner_required(view: View) -> View:
    """Login required (anonymous → login page); non-staff users get 403.

    Sets `request.practitioner` and `request.clinic` for the view.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        practitioner = practitioner_for(request)
        if practitioner is None:
            return render(request, "dashboard/forbidden.html", status=403)
        request.practitioner = practitioner  # type: ignore[attr-defined]
        request.clinic = practitioner.clinic  # type: ignore[attr-defined]
        # Times on the pages read in the clinic's zone (dates of sessions are already local).
        with timezone.override(zoneinfo.ZoneInfo(practitioner.clinic.timezone)):
            return view(request, *args, **kwargs)

    return login_required(wrapper)


def clinic_patient(request: StaffRequest, patient_id: int) -> Patient:
    """The patient if they belong to the caller's clinic; another clinic's patient is a 404.

    Loaded with the therapist and their user, as `select_related("therapist__user")` would,
    by a statement built once per process (every patient page and form post reads it; the
    ORM compiled the three-table join anew each time, a twentieth of the page's CPU).
    """
    read = _patient_read()
    try:
        key = int(patient_id)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    low, high = connection.ops.integer_field_range(Patient._meta.pk.get_internal_type())
    if not low <= key <= high:  # as the ORM does: no such row, not a database error
        raise Http404("No such patient in this clinic.")
    rows = prepared.fetchall(read.sql, [key, request.clinic.pk])
    if not rows:
        raise Http404("No such patient in this clinic.")
    patient, therapist, user = (
        part.instance(values)
        for part, values in zip(read.parts, split_row(rows[0], read.parts), strict=True)
    )
    therapist._state.fields_cache["user"] = user
    patient._state.fields_cache["therapist"] = therapist
    patient.clinic = request.clinic  # the same row, loaded with the practitioner
    return patient


@dataclass(frozen=True)
class _PatientRead:
    sql: str
    parts: tuple[Columns, ...]


@cache
def _patient_read() -> _PatientRead:
    quote = connection.ops.quote_name
    user_model = get_user_model()
    parts = (
        Columns.of(Patient, "p"),
        Columns.of(Practitioner, "t"),
        Columns.of(user_model, "u"),
    )

    # Identifiers come from the models' _meta; the values are parameters.
    sql = (
        f"SELECT {', '.join(part.select_list() for part in parts)} "  # noqa: S608
        f"FROM {quote(Patient._meta.db_table)} p "
        f"JOIN {quote(Practitioner._meta.db_table)} t "
        f"ON t.{column(Practitioner, 'id')} = p.{column(Patient, 'therapist')} "
        f"JOIN {quote(user_model._meta.db_table)} u "
        f"ON u.{column(user_model, 'id')} = t.{column(Practitioner, 'user')} "
        f"WHERE p.{column(Patient, 'id')} = %s AND p.{column(Patient, 'clinic')} = %s"
    )
    return _PatientRead(sql=sql, parts=parts)
