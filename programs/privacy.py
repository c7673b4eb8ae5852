"""Patient data rights: export everything held about a patient, and erase a patient.

Erasure keeps the patient row as a stub (so clinic counts and the audit trail, which refers to
patients by id, stay consistent), removes every personal field, deletes the patient's logs after
folding them into de-identified weekly aggregates, disables the login and revokes its tokens.
"""

import csv
import datetime as dt
import io
import json
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from clinic import answers
from clinic.accounts import user_disable
from patients.models import CheckIn, MeasureResponse, Patient

from .exports import patient_session_rows
from .models import (
    Alert,
    DeidentifiedActivity,
    ExerciseLog,
    Prescription,
    Reminder,
    SessionLog,
)

PATIENT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "date_of_birth",
    "email",
    "phone",
    "condition",
    "side",
    "surgery_date",
    "surgical_approach",
    "precaution_tags",
    "timezone",
    "status",
    "discharged_at",
    "reminders_enabled",
    "reminder_time",
    "reminder_weekdays",
    "reminder_channel",
    "quiet_hours_start",
    "quiet_hours_end",
    "created_at",
)


def patient_record(patient: Patient) -> dict[str, Any]:
    """Everything Stride holds about a patient, as plain JSON-ready data."""
    programs = []
    for prescription in patient.prescriptions.select_related("protocol", "current_phase"):
        programs.append(
            {
                "id": prescription.pk,
                "name": prescription.name,
                "protocol": prescription.protocol.slug if prescription.protocol else None,
                "current_phase": prescription.current_phase.name
                if prescription.current_phase
                else None,
                "status": prescription.status,
                "start_date": prescription.start_date,
                "sessions_per_week": prescription.sessions_per_week,
                "exercises": list(
                    prescription.exercises.values(
                        "id",
                        "exercise__slug",
                        "sets",
                        "reps",
                        "hold_seconds",
                        "notes",
                        "active",
                        "added_at",
                        "removed_at",
                    )
                ),
            }
        )
    sessions = []
    for session in patient.sessions.prefetch_related("entries__prescribed_exercise__exercise"):
        sessions.append(
            {
                "client_id": session.client_id,
                "program_id": session.prescription_id,
                "performed_at": session.performed_at,
                "local_date": session.local_date,
                "pain_before": session.pain_before,
                "pain_after": session.pain_after,
                "difficulty": session.difficulty,
                "duration_minutes": session.duration_minutes,
                "notes": session.notes,
                "exercises": [
                    {
                        "exercise": entry.prescribed_exercise.exercise.slug,
                        "sets_done": entry.sets_done,
                        "reps_done": entry.reps_done,
                        "hold_seconds_done": entry.hold_seconds_done,
                        "completed": entry.completed,
                        "skipped_reason": entry.skipped_reason,
                    }
                    for entry in session.entries.all()
                ],
            }
        )
    return {
        "exported_at": timezone.now(),
        "clinic": patient.clinic.name,
        "patient": {name: getattr(patient, name) for name in PATIENT_FIELDS},
        "programs": programs,
        "sessions": sessions,
        "outcome_measures": list(
            patient.measures.values(
                "instrument", "instrument_version", "answers", "raw_score", "score", "taken_at"
            )
        ),
        "checkins": list(
            patient.checkins.values("pain_now", "answers", "red_flags", "notes", "created_at")
        ),
        "alerts": list(
            patient.alerts.values(
                "kind",
                "severity",
                "message",
                "opened_at",
                "acknowledged_at",
                "acknowledgement_note",
            )
        ),
        "reminders": list(
            patient.reminders.values("kind", "local_date", "channel", "status", "sent_at")
        ),
    }


def patient_export_archive(patient: Patient) -> bytes:
    """A zip with `record.json` (everything) and `sessions.csv` (one row per exercise entry)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "record.json", json.dumps(patient_record(patient), cls=DjangoJSONEncoder, indent=2)
        )
        text = io.StringIO()
        csv.writer(text).writerows(patient_session_rows(patient))
        archive.writestr("sessions.csv", text.getvalue())
    return buffer.getvalue()


ANSWER_KEPT_AFTER_CREATION = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ErasureResult:
    patient_id: int
    sessions_aggregated: int
    weeks_kept: int


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@transaction.atomic
def patient_erase(*, patient: Patient) -> ErasureResult:
    """Erase a patient's personal data; logs survive only as de-identified weekly totals."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    if patient.erased_at is not None:
        return ErasureResult(patient_id=patient.pk, sessions_aggregated=0, weeks_kept=0)

    now = timezone.now()
    weekly: dict[tuple[dt.date, int | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    sessions = (
        SessionLog.objects.filter(patient=patient)
        .values("pk", "local_date", "pain_after", "prescription__protocol_id")
        .annotate(
            entry_count=Count("entries"),
            completed_count=Count("entries", filter=Q(entries__completed=True)),
        )
    )
    aggregated = 0
    for row in sessions.iterator(chunk_size=1000):
        totals = weekly[(_week_start(row["local_date"]), row["prescription__protocol_id"])]
        totals["sessions"] += 1
        if row["pain_after"] is not None:
            totals["pain_after_total"] += row["pain_after"]
            totals["pain_after_count"] += 1
        totals["entries"] += row["entry_count"]
        totals["entries_completed"] += row["completed_count"]
        aggregated += 1
    DeidentifiedActivity.objects.bulk_create(
        [
            DeidentifiedActivity(
                clinic_id=patient.clinic_id,
                condition=patient.condition,
                protocol_id=protocol_id,
                week_start=week_start,
                **totals,
            )
            for (week_start, protocol_id), totals in weekly.items()
        ]
    )

    # Answers kept for upload retries (clinic.answers) hold session data: forget those still
    # within their lifetime.
    answers.answers_forget(
        kind=answers.SESSION_UPLOAD,
        owner_id=patient.pk,
        client_ids=SessionLog.objects.filter(
            patient=patient,
            # Answers are kept from the commit of their session's creation: a margin covers
            # the time between the row's created_at and that commit.
            created_at__gte=now
            - dt.timedelta(seconds=settings.STRIDE_RETRY_ANSWER_SECONDS)
            - ANSWER_KEPT_AFTER_CREATION,
        ).values_list("client_id", flat=True),
    )
    ExerciseLog.objects.filter(session__patient=patient).delete()
    SessionLog.objects.filter(patient=patient).delete()
    Prescription.objects.filter(patient=patient).delete()
    MeasureResponse.objects.filter(patient=patient).delete()
    CheckIn.objects.filter(patient=patient).delete()
    Alert.objects.filter(patient=patient).delete()
    Reminder.objects.filter(patient=patient).delete()

    user = patient.user
    patient.first_name = "Erased"
    patient.last_name = "patient"
    patient.date_of_birth = None
    patient.email = ""
    patient.phone = ""
    patient.surgery_date = None
    patient.surgical_approach = ""
    patient.precaution_tags = []
    patient.condition = "other"
    patient.user = None
    patient.invite_code = None
    patient.invite_expires_at = None
    patient.reminders_enabled = False
    patient.quiet_hours_start = patient.quiet_hours_end = None
    patient.status = Patient.Status.DISCHARGED
    patient.discharged_at = patient.discharged_at or now
    patient.erased_at = now
    patient.save()
    # django-auditlog keeps each object's text representation (for a patient: the name).
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Patient), object_pk=str(patient.pk)
    ).update(object_repr=str(patient))
    if user is not None:
        user_disable(user=user)
    return ErasureResult(
        patient_id=patient.pk, sessions_aggregated=aggregated, weeks_kept=len(weekly)
    )
