import csv
import io

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from tests import factories
from tests.api.staff_data import log_session

pytestmark = pytest.mark.django_db


def test_the_adherence_summary_streams_one_escaped_row_per_patient(
    auth_client, therapist_user, clinic, therapist, patient, prescription
):
    log_session(patient, days_ago=0)
    factories.create_patient(clinic=clinic, therapist=therapist, last_name="=HYPERLINK(1)")
    response = auth_client(therapist_user).get(reverse("api-v1:report-adherence"))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["patient_id", "last_name", "first_name"]
    assert len(rows) == 3
    by_id = {row[0]: row for row in rows[1:]}
    mine = by_id[str(patient.pk)]
    assert mine[9] == patient.local_date().isoformat()
    assert float(mine[8]) > 0
    formula = next(row for row in rows[1:] if row[0] != str(patient.pk))
    assert formula[1] == "'=HYPERLINK(1)"
    exported = set(AuditEvent.objects.filter(action="export").values_list("patient_id", flat=True))
    assert exported == {int(row[0]) for row in rows[1:]}


def test_the_summary_stays_within_the_callers_clinic(
    auth_client, other_clinic_therapist_user, patient
):
    response = auth_client(other_clinic_therapist_user).get(reverse("api-v1:report-adherence"))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
