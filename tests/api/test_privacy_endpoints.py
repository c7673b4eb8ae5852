import datetime as dt
import io
import json
import zipfile

import pytest
from django.urls import reverse
from django.utils import timezone

from clinic.models import AuditEvent
from patients.models import Patient
from programs.models import SessionLog
from tests.api.staff_data import log_session

pytestmark = pytest.mark.django_db


def test_a_clinic_admin_exports_everything_about_a_patient(
    auth_client, clinic_admin_user, patient_user, patient
):
    log_session(patient, days_ago=0)
    response = auth_client(clinic_admin_user).get(
        reverse("api-v1:patient-export", kwargs={"pk": patient.pk})
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    record = json.loads(archive.read("record.json"))
    assert record["patient"]["id"] == patient.pk
    assert len(record["sessions"]) == 1
    event = AuditEvent.objects.get(action="export")
    assert (event.patient_id, event.user_id, event.role) == (
        patient.pk,
        clinic_admin_user.pk,
        "admin",
    )


def test_a_therapist_cannot_export_or_erase(auth_client, therapist_user, patient):
    client = auth_client(therapist_user)
    assert (
        client.get(reverse("api-v1:patient-export", kwargs={"pk": patient.pk})).status_code == 403
    )
    erase = client.post(
        reverse("api-v1:patient-erase", kwargs={"pk": patient.pk}),
        {"confirm": patient.full_name},
        format="json",
    )
    assert erase.status_code == 403
    assert Patient.objects.get(pk=patient.pk).erased_at is None


def test_erasure_needs_the_patients_name_as_confirmation(auth_client, clinic_admin_user, patient):
    response = auth_client(clinic_admin_user).post(
        reverse("api-v1:patient-erase", kwargs={"pk": patient.pk}),
        {"confirm": "yes"},
        format="json",
    )
    assert response.status_code == 400
    assert "confirm" in response.json()["errors"]
    assert Patient.objects.get(pk=patient.pk).erased_at is None


def test_after_erasure_the_patients_tokens_no_longer_work(
    auth_client, clinic_admin_user, patient_user, patient
):
    log_session(patient, days_ago=0)
    patient_client = auth_client(patient_user)
    assert patient_client.get(reverse("api-v1:me")).status_code == 200
    response = auth_client(clinic_admin_user).post(
        reverse("api-v1:patient-erase", kwargs={"pk": patient.pk}),
        {"confirm": patient.full_name},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["sessions_aggregated"] == 1
    assert patient_client.get(reverse("api-v1:me")).status_code == 401
    assert not SessionLog.objects.filter(patient=patient).exists()
    assert AuditEvent.objects.filter(action="erase", patient_id=patient.pk).count() == 1


def test_the_audit_trail_is_searchable_by_patient_user_and_date(
    auth_client,
    clinic_admin_user,
    therapist_user,
    patient,
    other_patient,
    other_clinic_therapist_user,
):
    therapist = auth_client(therapist_user)
    therapist.get(reverse("api-v1:patient-detail", kwargs={"pk": patient.pk}))
    therapist.get(reverse("api-v1:patient-detail", kwargs={"pk": other_patient.pk}))
    auth_client(other_clinic_therapist_user).get(reverse("api-v1:patient-list"))
    admin = auth_client(clinic_admin_user)
    url = reverse("api-v1:audit-list")

    by_patient = admin.get(url, {"patient": patient.pk}).json()["results"]
    assert [row["patient_id"] for row in by_patient] == [patient.pk]
    by_user = admin.get(url, {"user": therapist_user.pk}).json()["results"]
    assert {row["patient_id"] for row in by_user} == {patient.pk, other_patient.pk}
    tomorrow = (timezone.now() + dt.timedelta(days=1)).isoformat()
    assert admin.get(url, {"since": tomorrow}).json()["results"] == []
    # Another clinic's reads are not in this clinic's trail.
    everything = admin.get(url).json()["results"]
    assert {row["user_id"] for row in everything} == {therapist_user.pk}
    assert auth_client(therapist_user).get(url).status_code == 403
