import csv
import datetime as dt
import io
import json
import uuid
import zipfile

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from patients import services as patient_services
from patients.models import CheckIn, MeasureResponse, Patient
from programs import privacy
from programs.alerts import alert_open
from programs.models import (
    Alert,
    DeidentifiedActivity,
    ExerciseLog,
    Prescription,
    Reminder,
    SessionLog,
)
from programs.services import ExerciseEntry, session_record

pytestmark = pytest.mark.django_db

PERSONAL = ("Zebulon", "Quillfeather", "zq@example.org", "555-0100", "knee feels hot", "my garden")


@pytest.fixture
def full_patient(prescription):
    patient = prescription.patient
    patient.first_name = "Zebulon"
    patient.last_name = "Quillfeather"
    patient.email = "zq@example.org"
    patient.phone = "555-0100"
    patient.date_of_birth = dt.date(1961, 4, 2)
    patient.save()
    patient_services.patient_claim(
        invite_code=patient.invite_code, username="alexm", password="a-long-pass-42"
    )
    patient.refresh_from_db()
    entries = [
        ExerciseEntry(prescribed_exercise_id=pk, sets_done=2, reps_done=10)
        for pk in prescription.exercises.values_list("pk", flat=True)
    ]
    for days_ago in range(3):
        session_record(
            patient=patient,
            client_id=uuid.uuid4(),
            performed_at=timezone.now() - dt.timedelta(hours=1 + days_ago),
            pain_after=3 + days_ago,
            notes="knee feels hot",
            entries=entries,
        )
    MeasureResponse.objects.create(
        patient=patient,
        instrument="psfs",
        instrument_version="1.0",
        answers={"activities": [{"name": "my garden", "rating": 4}] * 3},
        raw_score=12,
        score=4,
        taken_at=timezone.now(),
    )
    CheckIn.objects.create(patient=patient, pain_now=4, notes="knee feels hot")
    alert_open(patient=patient, kind="inactive", severity="warning", message="idle")
    Reminder.objects.create(patient=patient, local_date=timezone.localdate(), channel="email")
    return patient


def test_the_export_holds_everything_as_json_and_csv(full_patient):
    archive = zipfile.ZipFile(io.BytesIO(privacy.patient_export_archive(full_patient)))
    assert set(archive.namelist()) == {"record.json", "sessions.csv"}
    record = json.loads(archive.read("record.json"))
    assert record["patient"]["email"] == "zq@example.org"
    assert len(record["sessions"]) == 3
    assert len(record["sessions"][0]["exercises"]) == 3
    assert record["outcome_measures"][0]["instrument"] == "psfs"
    assert len(record["checkins"]) == 1
    assert len(record["alerts"]) == 1
    rows = list(csv.reader(io.StringIO(archive.read("sessions.csv").decode())))
    assert rows[0][0] == "session_id"
    assert len(rows) == 1 + 3 * 3


def test_erasure_leaves_no_personal_field_in_any_of_the_patients_rows(full_patient):
    user_id = full_patient.user_id
    privacy.patient_erase(patient=full_patient)

    stub = Patient.objects.get(pk=full_patient.pk)
    stub_values = " ".join(
        str(value) for value in Patient.objects.filter(pk=stub.pk).values()[0].values()
    )
    for personal in PERSONAL:
        assert personal not in stub_values
    assert stub.date_of_birth is None
    assert stub.erased_at is not None
    assert stub.user_id is None
    for model in (SessionLog, Prescription, MeasureResponse, CheckIn, Alert, Reminder):
        assert not model.objects.filter(patient_id=stub.pk).exists(), model
    assert not ExerciseLog.objects.filter(session__patient_id=stub.pk).exists()

    for entry in LogEntry.objects.all():
        logged = f"{entry.object_repr} {entry.changes}"
        for personal in PERSONAL:
            assert personal not in logged, entry

    user = get_user_model().objects.get(pk=user_id)
    user_values = " ".join(
        str(v) for v in get_user_model().objects.filter(pk=user_id).values()[0].values()
    )
    assert "alexm" not in user_values
    assert "Zebulon" not in user_values
    assert user.is_active is False
    assert not user.has_usable_password()


def test_erasure_revokes_refresh_tokens(full_patient):
    refresh = RefreshToken.for_user(full_patient.user)
    privacy.patient_erase(patient=full_patient)
    token = OutstandingToken.objects.get(jti=refresh["jti"])
    assert hasattr(token, "blacklistedtoken")


def test_aggregates_still_add_up_after_erasure(full_patient, clinic):
    sessions_before = SessionLog.objects.filter(patient__clinic=clinic).count()
    pain_before = SessionLog.objects.filter(patient__clinic=clinic).aggregate(t=Sum("pain_after"))[
        "t"
    ]
    result = privacy.patient_erase(patient=full_patient)
    kept = DeidentifiedActivity.objects.filter(clinic=clinic).aggregate(
        sessions=Sum("sessions"), pain=Sum("pain_after_total"), entries=Sum("entries")
    )
    live = SessionLog.objects.filter(patient__clinic=clinic).count()
    assert result.sessions_aggregated == sessions_before == 3
    assert live + kept["sessions"] == sessions_before
    assert kept["pain"] == pain_before
    assert kept["entries"] == 9


def test_erasing_twice_changes_nothing_more(full_patient):
    privacy.patient_erase(patient=full_patient)
    again = privacy.patient_erase(patient=full_patient)
    assert again.sessions_aggregated == 0
    assert DeidentifiedActivity.objects.aggregate(s=Sum("sessions"))["s"] == 3
