import datetime as dt

import pytest
from django.utils import timezone

from programs.models import Alert
from tests import factories
from tests.api.staff_data import (
    open_alert,
)

ALERTS = "/api/v1/alerts/"


@pytest.fixture
def staff(auth_client, therapist_user):
    return auth_client(therapist_user)


def aged(alert, hours):
    Alert.objects.filter(pk=alert.pk).update(opened_at=timezone.now() - dt.timedelta(hours=hours))
    return alert


@pytest.fixture
def triage(clinic, therapist, patient, other_patient):
    """Open alerts of mixed urgency and age, one acknowledged, and one of another clinic."""
    third = factories.create_patient(clinic=clinic, therapist=therapist, last_name="Third")
    alerts = {
        "old_warning": aged(open_alert(patient, Alert.Kind.INACTIVE), 50),
        "new_warning": aged(open_alert(other_patient, Alert.Kind.PAIN_SPIKE), 1),
        "info": aged(open_alert(third, Alert.Kind.SCORE_DECLINE, Alert.Severity.INFO), 0),
        "red_flag": aged(open_alert(third, Alert.Kind.RED_FLAG, Alert.Severity.URGENT), 80),
        "urgent_other": aged(
            open_alert(patient, Alert.Kind.LOW_ADHERENCE, Alert.Severity.URGENT), 2
        ),
        "done": aged(open_alert(other_patient, Alert.Kind.INACTIVE), 3),
    }
    Alert.objects.filter(pk=alerts["done"].pk).update(acknowledged_at=timezone.now())
    elsewhere = factories.ClinicFactory()
    open_alert(
        factories.create_patient(
            clinic=elsewhere, therapist=factories.PractitionerFactory(clinic=elsewhere)
        )
    )
    return alerts


def ids(response):
    assert response.status_code == 200, response.data
    return [row["id"] for row in response.data["results"]]


def test_open_alerts_come_most_urgent_first(staff, triage):
    expected = ["red_flag", "urgent_other", "new_warning", "old_warning", "info"]

    assert ids(staff.get(ALERTS, {"open": "true"})) == [triage[name].pk for name in expected]


def test_the_urgency_order_pages_without_gaps_or_repeats(staff, triage):
    expected = [triage[n].pk for n in ("red_flag", "urgent_other", "new_warning", "old_warning")]
    seen = []
    response = staff.get(ALERTS, {"open": "true", "page_size": 2})
    while True:
        seen += ids(response)
        if not response.data["next"]:
            break
        response = staff.get(response.data["next"])

    assert seen[:4] == expected
    assert len(seen) == 5


def test_all_alerts_newest_first_and_only_this_clinics(staff, triage):
    expected = sorted(triage.values(), key=lambda alert: alert.pk)
    expected = sorted(
        expected, key=lambda alert: Alert.objects.get(pk=alert.pk).opened_at, reverse=True
    )

    assert ids(staff.get(ALERTS)) == [alert.pk for alert in expected]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"open": "false"}, {"done"}),
        ({"kind": "red_flag"}, {"red_flag"}),
        ({"severity": "urgent"}, {"red_flag", "urgent_other"}),
        ({"severity": "warning", "open": "true"}, {"old_warning", "new_warning"}),
    ],
)
def test_filters(staff, triage, params, expected):
    names = {alert.pk: name for name, alert in triage.items()}

    assert {names[pk] for pk in ids(staff.get(ALERTS, params))} == expected


def test_filter_by_patient(staff, triage, patient):
    assert set(ids(staff.get(ALERTS, {"patient": patient.pk}))) == {
        triage["old_warning"].pk,
        triage["urgent_other"].pk,
    }


def test_an_unknown_kind_is_400(staff):
    response = staff.get(ALERTS, {"kind": "boredom"})

    assert response.status_code == 400
    assert "kind" in response.data["errors"]


def test_acknowledge_records_who_and_the_note_and_twice_is_400(staff, triage, therapist_user):
    url = f"{ALERTS}{triage['red_flag'].pk}/acknowledge/"

    response = staff.post(url, {"note": "Called the patient; sent to A&E."}, format="json")
    again = staff.post(url, {"note": "again"}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["is_open"] is False
    assert response.data["acknowledgement_note"] == "Called the patient; sent to A&E."
    assert response.data["acknowledged_by"] == therapist_user.get_full_name()
    alert = Alert.objects.get(pk=triage["red_flag"].pk)
    assert alert.acknowledged_by == therapist_user
    assert again.status_code == 400
    assert again.data["errors"]["alert"] == ["This alert was already acknowledged."]
    assert Alert.objects.get(pk=alert.pk).acknowledgement_note == "Called the patient; sent to A&E."


def test_acknowledge_without_a_note(staff, triage):
    response = staff.post(f"{ALERTS}{triage['info'].pk}/acknowledge/")

    assert response.status_code == 200
    assert response.data["acknowledgement_note"] == ""


def test_a_note_too_long_is_400_and_the_alert_stays_open(staff, triage):
    response = staff.post(
        f"{ALERTS}{triage['info'].pk}/acknowledge/", {"note": "x" * 2001}, format="json"
    )

    assert response.status_code == 400
    assert Alert.objects.get(pk=triage["info"].pk).is_open


def test_another_clinics_alert_is_404(auth_client, other_clinic_therapist_user, triage):
    client = auth_client(other_clinic_therapist_user)

    assert client.post(f"{ALERTS}{triage['info'].pk}/acknowledge/").status_code == 404
    assert triage["info"].pk not in ids(client.get(ALERTS))
    assert Alert.objects.get(pk=triage["info"].pk).is_open


def test_patients_may_not_read_alerts(auth_client, patient_user):
    assert auth_client(patient_user).get(ALERTS).status_code == 403
