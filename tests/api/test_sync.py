import uuid

import pytest
from django.utils import timezone

from programs import services as program_services
from programs.models import ExerciseLog, Prescription, SessionLog

pytestmark = pytest.mark.django_db

SYNC = "/api/v1/me/sessions/sync/"


def item(program: Prescription, **fields) -> dict:
    return {
        "client_id": str(uuid.uuid4()),
        # Now, not a while ago: `other_prescription` starts today, and just after the
        # patient's local midnight "a while ago" is yesterday, before it started.
        "performed_at": timezone.now().isoformat(),
        "pain_after": 2,
        "exercises": [
            {"prescribed_exercise": pk, "sets_done": 2, "reps_done": 10}
            for pk in program.exercises.values_list("pk", flat=True)
        ],
        **fields,
    }


@pytest.fixture
def client(auth_client, patient_user):
    return auth_client(patient_user)


def test_a_mixed_batch_stores_exactly_the_good_items(
    client, patient, prescription, other_prescription
):
    stored_before = item(prescription)
    program_services.session_record(
        patient=patient,
        client_id=uuid.UUID(stored_before["client_id"]),
        performed_at=timezone.now(),
    )
    new_one = item(prescription)
    new_two = item(prescription, notes="after work")
    bad_pain = item(prescription, pain_after=11)
    foreign_entry = item(
        prescription,
        exercises=[{"prescribed_exercise": other_prescription.exercises.first().pk}],
    )
    batch = [
        new_one,
        stored_before,
        bad_pain,
        "not a session",
        foreign_entry,
        new_two,
        new_one,  # the same session twice in one batch
        {"performed_at": "2025-01-01T00:00:00Z"},
    ]

    response = client.post(SYNC, {"sessions": batch}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    statuses = [(r["index"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "created"),
        (1, "duplicate"),
        (2, "invalid"),
        (3, "invalid"),
        (4, "invalid"),
        (5, "created"),
        (6, "duplicate"),
        (7, "invalid"),
    ]
    assert (body["created"], body["duplicate"], body["invalid"]) == (2, 2, 4)
    results = body["results"]
    assert "pain_after" in results[2]["errors"]
    assert results[2]["client_id"] == bad_pain["client_id"]
    assert "non_field_errors" in results[3]["errors"]
    assert results[3]["client_id"] is None
    assert "exercises" in results[4]["errors"]
    assert "client_id" in results[7]["errors"]
    assert results[0]["session"]["client_id"] == new_one["client_id"]
    assert results[6]["session"]["id"] == results[0]["session"]["id"]
    assert results[1]["session"]["client_id"] == stored_before["client_id"]
    assert all(r["session"] is None for r in results if r["status"] == "invalid")

    stored = set(SessionLog.objects.filter(patient=patient).values_list("client_id", flat=True))
    assert {str(c) for c in stored} == {
        stored_before["client_id"],
        new_one["client_id"],
        new_two["client_id"],
    }
    assert ExerciseLog.objects.filter(session__client_id=new_one["client_id"]).count() == 3
    assert not ExerciseLog.objects.filter(session__client_id=foreign_entry["client_id"]).exists()
    assert SessionLog.objects.get(client_id=new_two["client_id"]).source == "sync"


def test_syncing_the_same_batch_again_stores_nothing_new(client, patient, prescription):
    batch = [item(prescription) for _ in range(3)]
    client.post(SYNC, {"sessions": batch}, format="json")

    again = client.post(SYNC, {"sessions": batch}, format="json").json()

    assert [r["status"] for r in again["results"]] == ["duplicate"] * 3
    assert SessionLog.objects.filter(patient=patient).count() == 3


def test_a_full_batch_of_100_is_accepted(client, patient, prescription):
    batch = [item(prescription, exercises=[]) for _ in range(100)]

    response = client.post(SYNC, {"sessions": batch}, format="json")

    assert response.status_code == 200
    assert response.json()["created"] == 100
    assert SessionLog.objects.filter(patient=patient).count() == 100


@pytest.mark.parametrize(
    "payload",
    [
        {"sessions": []},
        {"sessions": "many"},
        {},
        [],
    ],
)
def test_a_malformed_batch_answers_400(client, patient, payload):
    response = client.post(SYNC, payload, format="json")

    assert response.status_code == 400
    assert response.json()["type"] == "invalid"


def test_more_than_100_items_answer_400_and_store_nothing(client, patient, prescription):
    batch = [item(prescription, exercises=[]) for _ in range(101)]

    response = client.post(SYNC, {"sessions": batch}, format="json")

    assert response.status_code == 400
    assert "sessions" in response.json()["errors"]
    assert not SessionLog.objects.exists()


def test_sync_only_ever_writes_the_callers_sessions(
    auth_client, other_patient_user, other_patient, prescription, other_prescription
):
    response = auth_client(other_patient_user).post(
        SYNC,
        {"sessions": [item(other_prescription), item(prescription, prescription=prescription.pk)]},
        format="json",
    )

    assert [r["status"] for r in response.json()["results"]] == ["created", "invalid"]
    assert set(SessionLog.objects.values_list("patient_id", flat=True)) == {other_patient.pk}


def test_sync_is_throttled(client, prescription, throttle_rates, monkeypatch):
    from api.throttles import SyncThrottle

    monkeypatch.setattr(SyncThrottle, "cache_format", f"t-{uuid.uuid4()}-%(scope)s-%(ident)s")
    throttle_rates(sync="1/min")
    assert client.post(SYNC, {"sessions": [item(prescription)]}, format="json").status_code == 200

    response = client.post(SYNC, {"sessions": [item(prescription)]}, format="json")

    assert response.status_code == 429
