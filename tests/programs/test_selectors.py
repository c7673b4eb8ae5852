import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import Patient
from programs import selectors
from programs.alerts import alert_open
from programs.models import SessionLog
from programs.selectors import clinic_open_alerts, clinic_overview, patient_progress
from tests import factories

pytestmark = pytest.mark.django_db


def build_clinic(clinic, therapist, exercises, count: int):
    sessions = []
    for index in range(count):
        patient = factories.create_patient(
            clinic=clinic, therapist=therapist, last_name=f"Patient{index:03d}"
        )
        start = patient.local_date() - dt.timedelta(days=20)
        program = factories.assign_custom_program(
            patient=patient, prescriber=therapist, exercises=exercises, start_date=start
        )
        for days_ago in range(0, 14, 2):
            moment = timezone.now() - dt.timedelta(days=days_ago)
            sessions.append(
                SessionLog(
                    prescription=program,
                    patient=patient,
                    client_id=uuid.uuid4(),
                    performed_at=moment,
                    local_date=patient.local_date(moment),
                    pain_after=3 + index % 3,
                )
            )
        if index % 4 == 0:
            alert_open(patient=patient, kind="inactive", severity="warning", message="idle")
    SessionLog.objects.bulk_create(sessions)


def overview_queries(clinic) -> int:
    with CaptureQueriesContext(connection) as queries:
        rows = clinic_overview(
            clinic, patients=Patient.objects.filter(clinic=clinic).select_related("therapist")
        )
    assert rows
    return len(queries)


def test_clinic_overview_uses_the_same_queries_for_10_and_200_patients(
    clinic, therapist, exercises
):
    build_clinic(clinic, therapist, exercises, 10)
    small = overview_queries(clinic)
    build_clinic(clinic, therapist, exercises, 190)
    large = overview_queries(clinic)
    assert small == large
    # The patients, their row columns, sessions per day, program history, program instances.
    assert large <= 5


def test_clinic_overview_rows_hold_the_computed_columns(clinic, therapist, exercises):
    build_clinic(clinic, therapist, exercises, 4)
    rows = {row.name: row for row in clinic_overview(clinic)}
    row = rows["Alex Patient000"]
    assert row.open_alerts == 1
    assert row.top_severity == "warning"
    assert row.last_session_on == row.patient.local_date()
    assert row.latest_pain == 3
    assert row.weeks_since_start == 2
    assert 0 < row.adherence_recent <= 1
    assert rows["Alex Patient001"].open_alerts == 0


def test_open_alerts_list_red_flags_first(clinic, therapist, exercises):
    build_clinic(clinic, therapist, exercises, 2)
    patient = Patient.objects.get(last_name="Patient001")
    alert_open(patient=patient, kind="red_flag", severity="urgent", message="calf swelling")
    assert next(a.kind for a in clinic_open_alerts(clinic)) == "red_flag"


def test_patient_progress_gathers_every_part(prescription):
    progress = patient_progress(prescription.patient)
    assert progress.prescription == prescription
    assert progress.adherence is not None
    assert progress.readiness is None  # custom program
    assert progress.pain.days == []
    assert progress.open_alerts == []


def test_a_patient_deleted_between_the_overview_reads_is_left_out(clinic, therapist, exercises):
    build_clinic(clinic, therapist, exercises, 3)
    patients = list(Patient.objects.filter(clinic=clinic).order_by("last_name"))
    gone = patients[1]
    Patient.objects.filter(pk=gone.pk).delete()  # after the patients were read
    rows = clinic_overview(clinic, patients=patients)
    assert [row.patient.pk for row in rows] == [patients[0].pk, patients[2].pk]
    assert all(row.prescription is not None for row in rows)


def test_a_program_deleted_between_the_overview_reads_is_shown_as_none(
    clinic, therapist, exercises, monkeypatch
):
    build_clinic(clinic, therapist, exercises, 2)
    patients = list(Patient.objects.filter(clinic=clinic).order_by("last_name"))
    read_heads = selectors.overview_heads

    def heads_then_delete(ids):
        heads = read_heads(ids)
        patients[0].prescriptions.all().delete()  # after the heads were read
        return heads

    monkeypatch.setattr(selectors, "overview_heads", heads_then_delete)
    first, second = clinic_overview(clinic, patients=patients)
    assert (first.prescription, first.adherence_recent, first.weeks_since_start) == (
        None,
        None,
        None,
    )
    assert second.prescription is not None
    assert second.adherence_recent is not None
