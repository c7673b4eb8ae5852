"""CSV export of a patient's sessions: one row per exercise entry, produced lazily.

`patient_session_rows` yields plain lists of strings (header first) from one streamed query;
the interface wraps them in a csv writer and a streaming response, so the file is never held
in memory whatever the number of sessions.
"""

import datetime as dt
from collections.abc import Iterator
from typing import Any

from clinic.models import Clinic
from patients.models import Patient

from .models import SessionLog
from .selectors import clinic_overview

SESSION_CSV_HEADER = (
    "session_id",
    "performed_at",
    "local_date",
    "program",
    "phase",
    "pain_before",
    "pain_after",
    "difficulty",
    "duration_minutes",
    "session_notes",
    "source",
    "exercise",
    "completed",
    "sets_done",
    "reps_done",
    "hold_seconds_done",
    "skipped_reason",
)

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

_FIELDS = (
    "id",
    "performed_at",
    "local_date",
    "prescription__name",
    "phase__name",
    "pain_before",
    "pain_after",
    "difficulty",
    "duration_minutes",
    "notes",
    "source",
    # Reverse relation: a LEFT OUTER JOIN, so a session without entries still gives one row.
    "entries__prescribed_exercise__exercise__name",
    "entries__completed",
    "entries__sets_done",
    "entries__reps_done",
    "entries__hold_seconds_done",
    "entries__skipped_reason",
)
_FREE_TEXT = frozenset({"prescription__name", "phase__name", "notes", "entries__skipped_reason"})


def csv_text(value: str) -> str:
    """Free text made safe to open in a spreadsheet: a leading formula character is quoted."""
    return f"'{value}" if value.startswith(FORMULA_PREFIXES) else value


def _cell(name: str, value: Any, zone: dt.tzinfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat(timespec="minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value)
    return csv_text(text) if name in _FREE_TEXT or name.endswith("exercise__name") else text


def patient_session_rows(patient: Patient) -> Iterator[list[str]]:
    """The header, then one row per exercise entry of each session, oldest first.

    Times are in the patient's time zone. One query, read in chunks (`.iterator()`).
    """
    yield list(SESSION_CSV_HEADER)
    zone = patient.tzinfo
    rows = (
        SessionLog.objects.filter(patient=patient)
        .order_by("performed_at", "id", "entries__id")
        .values_list(*_FIELDS)
        .iterator(chunk_size=1000)
    )
    for row in rows:
        yield [_cell(name, value, zone) for name, value in zip(_FIELDS, row, strict=True)]


ADHERENCE_CSV_HEADER = (
    "patient_id",
    "last_name",
    "first_name",
    "therapist",
    "status",
    "program",
    "phase",
    "weeks_since_start",
    "adherence_recent",
    "last_session_on",
    "latest_pain",
    "pain_direction",
    "open_alerts",
)


def clinic_adherence_rows(clinic: Clinic, *, chunk_size: int = 500) -> Iterator[list[str]]:
    """The header, then one row per patient of the clinic, computed a chunk at a time.

    Each chunk costs the overview selector's fixed number of queries, so memory and queries
    stay bounded whatever the size of the clinic.
    """
    yield list(ADHERENCE_CSV_HEADER)
    patients = Patient.objects.filter(clinic=clinic).select_related("therapist__user")
    last_pk = 0
    while chunk := list(patients.filter(pk__gt=last_pk).order_by("pk")[:chunk_size]):
        last_pk = chunk[-1].pk
        for row in clinic_overview(clinic, patients=chunk):
            patient = row.patient
            yield [
                str(patient.pk),
                csv_text(patient.last_name),
                csv_text(patient.first_name),
                csv_text(patient.therapist.display_name),
                patient.status,
                csv_text(row.protocol_name),
                csv_text(row.phase_name),
                "" if row.weeks_since_start is None else str(row.weeks_since_start),
                "" if row.adherence_recent is None else f"{row.adherence_recent:.3f}",
                row.last_session_on.isoformat() if row.last_session_on else "",
                "" if row.latest_pain is None else str(row.latest_pain),
                row.pain_direction or "",
                str(row.open_alerts),
            ]
