import datetime as dt
import json
import uuid

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic import answers
from clinic.models import AuditEvent
from programs import services as program_services
from programs.models import Alert, ExerciseLog, Prescription, Protocol, SessionLog
from tests import factories
from tests.api.conftest import claim_patient, queries_outside_audit

pytestmark = pytest.mark.django_db

SESSIONS = "/api/v1/me/sessions/"


def session_body(program: Prescription, **fields) -> dict:
    entries = [
        {"prescribed_exercise": pk, "sets_done": 2, "reps_done": 10}
        for pk in program.exercises.filter(active=True).values_list("pk", flat=True)
    ]
    return {
        "client_id": str(uuid.uuid4()),
        "performed_at": timezone.now().isoformat(),
        "pain_before": 3,
        "pain_after": 2,
        "difficulty": 4,
        "duration_minutes": 20,
        "notes": "Felt fine.",
        "exercises": entries,
        **fields,
    }


def record(prescription: Prescription, *, days_ago: int = 0, **fields) -> SessionLog:
    session, _ = factories.record_session(
        prescription,
        days_ago=days_ago,
        pain_after=fields.pop("pain_after", 2),
        entries=[
            program_services.ExerciseEntry(prescribed_exercise_id=pk, sets_done=2, reps_done=10)
            for pk in prescription.exercises.values_list("pk", flat=True)
        ],
        **fields,
    )
    return session


@pytest.fixture
def client(auth_client, patient_user):
    return auth_client(patient_user)


@pytest.fixture
def backdated(clinic, therapist):
    """A claimed patient whose program started 40 days ago; returns (user, prescription)."""
    patient = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Dana")
    prescription = factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=factories.ExerciseFactory.create_batch(3),
        start_date=patient.local_date() - dt.timedelta(days=40),
    )
    return claim_patient(patient, "patient-dana"), prescription


# --- logging a session -------------------------------------------------------------------------


def test_a_new_session_is_stored_with_its_entries(client, patient, prescription):
    body = session_body(prescription)

    response = client.post(SESSIONS, body, format="json")

    assert response.status_code == 201, response.content
    stored = response.json()
    session = SessionLog.objects.get(patient=patient)
    assert stored["id"] == session.pk
    assert stored["client_id"] == body["client_id"]
    assert stored["prescription"] == prescription.pk
    assert stored["local_date"] == patient.local_date(session.performed_at).isoformat()
    assert stored["source"] == "app"
    assert [e["prescribed_exercise"] for e in stored["exercises"]] == [
        e["prescribed_exercise"] for e in body["exercises"]
    ]
    assert stored["exercises"][0]["exercise_slug"]
    assert session.entries.count() == 3


def test_retried_upload_returns_the_stored_session(client, patient, prescription):
    body = session_body(prescription)

    first = client.post(SESSIONS, body, format="json")
    retried = client.post(SESSIONS, body, format="json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert SessionLog.objects.filter(patient=patient).count() == 1
    assert ExerciseLog.objects.filter(session__patient=patient).count() == 3


def test_a_retry_with_changed_content_still_returns_the_stored_session(client, prescription):
    body = session_body(prescription, pain_after=2)
    client.post(SESSIONS, body, format="json")

    retried = client.post(SESSIONS, {**body, "pain_after": 7, "exercises": []}, format="json")

    assert retried.status_code == 200
    assert retried.json()["pain_after"] == 2
    assert len(retried.json()["exercises"]) == 3


def test_the_same_client_id_from_two_patients_makes_two_sessions(
    auth_client, patient_user, other_patient_user, prescription, other_prescription
):
    client_id = str(uuid.uuid4())

    mine = auth_client(patient_user).post(
        SESSIONS, session_body(prescription, client_id=client_id), format="json"
    )
    theirs = auth_client(other_patient_user).post(
        SESSIONS, session_body(other_prescription, client_id=client_id), format="json"
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert SessionLog.objects.filter(client_id=client_id).count() == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"pain_after": 11}, "pain_after"),
        ({"pain_before": -1}, "pain_before"),
        ({"difficulty": 10.5}, "difficulty"),
        ({"pain_after": "lots"}, "pain_after"),
        ({"duration_minutes": 601}, "duration_minutes"),
        ({"notes": "x" * 2001}, "notes"),
        ({"client_id": "not-a-uuid"}, "client_id"),
        ({"client_id": None}, "client_id"),
        ({"performed_at": "2025-03-01T18:30:00"}, "performed_at"),
        ({"performed_at": "yesterday"}, "performed_at"),
        ({"exercises": "all of them"}, "exercises"),
        ({"exercises": [{"sets_done": 2}]}, "exercises.0.prescribed_exercise"),
        (
            {"exercises": [{"prescribed_exercise": 1, "skipped_reason": "x" * 301}]},
            "exercises.0.skipped_reason",
        ),
        ({"exercises": [{"prescribed_exercise": 1, "sets_done": -1}]}, "exercises.0.sets_done"),
    ],
)
def test_invalid_fields_answer_400_and_store_nothing(client, patient, prescription, change, field):
    response = client.post(SESSIONS, session_body(prescription, **change), format="json")

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["type"] == "invalid"
    assert any(key == field or key.startswith(f"{field}.") for key in body["errors"]), body
    assert not SessionLog.objects.filter(patient=patient).exists()


def test_a_session_in_the_future_is_refused(client, patient, prescription):
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()

    response = client.post(SESSIONS, session_body(prescription, performed_at=later), format="json")

    assert response.status_code == 400
    assert "performed_at" in response.json()["errors"]
    assert not SessionLog.objects.filter(patient=patient).exists()


def test_a_few_minutes_of_clock_skew_are_accepted(client, prescription):
    skewed = (timezone.now() + dt.timedelta(minutes=2)).isoformat()

    response = client.post(SESSIONS, session_body(prescription, performed_at=skewed), format="json")

    assert response.status_code == 201


def test_a_session_before_the_program_started_is_refused(client, patient, prescription):
    before = (timezone.now() - dt.timedelta(days=3)).isoformat()

    response = client.post(SESSIONS, session_body(prescription, performed_at=before), format="json")

    assert response.status_code == 400
    assert "performed_at" in response.json()["errors"]


def test_an_entry_from_another_patients_program_is_refused_and_nothing_stored(
    client, patient, prescription, other_prescription
):
    body = session_body(prescription)
    body["exercises"].append(
        {"prescribed_exercise": other_prescription.exercises.first().pk, "sets_done": 1}
    )

    response = client.post(SESSIONS, body, format="json")

    assert response.status_code == 400
    assert "exercises" in response.json()["errors"]
    assert not SessionLog.objects.filter(patient=patient).exists()
    assert not ExerciseLog.objects.exists()


def test_the_same_exercise_twice_is_refused(client, patient, prescription):
    body = session_body(prescription)
    body["exercises"].append(body["exercises"][0])

    response = client.post(SESSIONS, body, format="json")

    assert response.status_code == 400
    assert "exercises" in response.json()["errors"]
    assert not SessionLog.objects.filter(patient=patient).exists()


def test_another_patients_program_cannot_be_named(client, patient, other_prescription):
    body = session_body(other_prescription, prescription=other_prescription.pk, exercises=[])

    response = client.post(SESSIONS, body, format="json")

    assert response.status_code == 400
    assert "prescription" in response.json()["errors"]
    assert not SessionLog.objects.exists()


def test_a_patient_with_two_programs_must_say_which(client, patient, therapist, prescription):
    second = factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=factories.ExerciseFactory.create_batch(1)
    )

    unnamed = client.post(SESSIONS, session_body(second, exercises=[]), format="json")
    named = client.post(SESSIONS, session_body(second, prescription=second.pk), format="json")

    assert unnamed.status_code == 400
    assert "prescription" in unnamed.json()["errors"]
    assert named.status_code == 201
    assert named.json()["prescription"] == second.pk


def test_a_completed_program_does_not_count_as_open(client, patient, therapist, prescription):
    program_services.program_complete(prescription=prescription)
    current = factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=factories.ExerciseFactory.create_batch(2)
    )

    response = client.post(SESSIONS, session_body(current), format="json")
    old_entries = client.post(
        SESSIONS,
        {**session_body(current), "exercises": session_body(prescription)["exercises"]},
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["prescription"] == current.pk
    assert len(response.json()["exercises"]) == 2
    assert old_entries.status_code == 400
    assert "exercises" in old_entries.json()["errors"]


@pytest.mark.parametrize(
    "raw", [b'{"client_id": "abc", ', b"[1, 2, 3]", b'"just a string"', b"null", b"\xff\xfe"]
)
def test_malformed_json_answers_400_not_500(client, patient, raw):
    response = client.post(SESSIONS, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["type"] == "invalid"
    assert not SessionLog.objects.exists()


def test_an_oversized_body_answers_413(client, settings, prescription):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps(session_body(prescription, notes="x" * 20_000))

    response = client.post(SESSIONS, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["type"] == "too_large"
    assert not SessionLog.objects.exists()


def test_a_logged_session_with_a_pain_spike_opens_an_alert_after_commit(
    client, patient, prescription, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(SESSIONS, session_body(prescription, pain_after=9), format="json")

    assert response.status_code == 201
    # The upload's: one batch of cache writes (the answer kept for retries and the patient's
    # list row token, sent together), then the alert check; the alert it opened: its own
    # batch (the row token again).
    upload_writes, alert_check, alert_writes = callbacks
    assert {key.split(":")[0] for key in upload_writes.sets} == {"answer", "patient-row-token"}
    assert alert_check.__name__ == "<lambda>"
    assert list(alert_writes.sets) == [f"patient-row-token:{patient.pk}"]
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.PAIN_SPIKE).exists()


def test_session_uploads_are_throttled_per_patient(
    client, prescription, throttle_rates, monkeypatch
):
    from api.throttles import SessionWriteThrottle

    # Own cache keys: the throttle cache may be shared with other test workers.
    monkeypatch.setattr(
        SessionWriteThrottle, "cache_format", f"t-{uuid.uuid4()}-%(scope)s-%(ident)s"
    )
    throttle_rates(session_write="2/min")
    for _ in range(2):
        assert client.post(SESSIONS, session_body(prescription), format="json").status_code == 201

    response = client.post(SESSIONS, session_body(prescription), format="json")

    assert response.status_code == 429
    assert response.json()["type"] == "throttled"
    assert client.get(SESSIONS).status_code == 200  # reads are not counted


# --- listing ------------------------------------------------------------------------------------


def test_list_is_newest_first_and_cursor_paginated(auth_client, backdated):
    user, prescription = backdated
    for days_ago in (5, 1, 3, 2, 4):
        record(prescription, days_ago=days_ago)
    client = auth_client(user)

    first = client.get(SESSIONS, {"page_size": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()

    dates = [s["local_date"] for page in (first, second, third) for s in page["results"]]
    assert dates == sorted(dates, reverse=True)
    assert len(dates) == 5
    assert third["next"] is None


def test_list_filters_by_local_date_range(auth_client, backdated):
    user, prescription = backdated
    sessions = [record(prescription, days_ago=days_ago) for days_ago in (10, 6, 2)]

    response = auth_client(user).get(
        SESSIONS,
        {
            "date_from": sessions[1].local_date.isoformat(),
            "date_to": sessions[2].local_date.isoformat(),
        },
    )

    assert response.status_code == 200
    assert {s["id"] for s in response.json()["results"]} == {sessions[1].pk, sessions[2].pk}
    assert auth_client(user).get(SESSIONS, {"date_from": "soon"}).status_code == 400


def test_the_list_query_count_does_not_grow_with_the_page(auth_client, backdated):
    user, prescription = backdated
    client = auth_client(user)
    for days_ago in range(5):
        record(prescription, days_ago=days_ago)
    with CaptureQueriesContext(connection) as five:
        assert len(client.get(SESSIONS).json()["results"]) == 5
    for index in range(45):
        record(prescription, days_ago=index % 40)

    with CaptureQueriesContext(connection) as fifty:
        assert len(client.get(SESSIONS).json()["results"]) == 50

    assert len(fifty.captured_queries) == len(five.captured_queries)
    # user with patient, sessions, their entries (with exercises)
    assert len(queries_outside_audit(five.captured_queries)) <= 3


def test_a_session_post_takes_a_bounded_number_of_queries(
    client, prescription, django_capture_on_commit_callbacks
):
    body = session_body(prescription)

    with (  # the on-commit work (the alert check, keeping the answer) runs after the count
        django_capture_on_commit_callbacks(execute=True),
        CaptureQueriesContext(connection) as first,
    ):
        assert client.post(SESSIONS, body, format="json").status_code == 201
    with CaptureQueriesContext(connection) as retried:
        assert client.post(SESSIONS, body, format="json").status_code == 200
    # The kept answer gone (expired, evicted): the database answers. (Not cache.clear(): the
    # other xdist worker shares the Redis database.)
    cache.delete(
        answers.answer_key(
            answers.SESSION_UPLOAD, prescription.patient.pk, uuid.UUID(body["client_id"])
        )
    )
    with CaptureQueriesContext(connection) as retried_late:
        assert client.post(SESSIONS, body, format="json").status_code == 200

    # New: user with patient, program with the entries' exercises, 2 inserts; no lookup first,
    # and the answer is built from what was inserted. Retried: the user, then the kept answer.
    # Retried late: the new-upload path, its insert refused by the key, the lookup, entries.
    assert len(queries_outside_audit(first.captured_queries)) <= 4
    assert len(queries_outside_audit(retried.captured_queries)) == 1
    assert len(queries_outside_audit(retried_late.captured_queries)) <= 6


def test_a_retry_is_answered_with_the_kept_answer(
    client, patient, prescription, django_capture_on_commit_callbacks
):
    body = session_body(prescription)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(SESSIONS, body, format="json")

    retried = client.post(SESSIONS, {**body, "pain_after": 9, "exercises": []}, format="json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert SessionLog.objects.filter(patient=patient).count() == 1


def test_without_a_kept_answer_a_retry_that_no_longer_validates_gets_the_stored_session(
    client, patient, prescription
):
    body = session_body(prescription)
    first = client.post(SESSIONS, body, format="json")  # on_commit never runs here: no answer
    program_services.program_complete(prescription=prescription)
    retried = client.post(SESSIONS, {**body, "pain_after": 11}, format="json")

    assert (first.status_code, retried.status_code) == (201, 200)
    assert retried.json() == first.json()
    assert SessionLog.objects.filter(patient=patient).count() == 1


def test_a_refused_upload_keeps_no_answer(
    client, patient, prescription, django_capture_on_commit_callbacks
):
    body = session_body(prescription)
    with django_capture_on_commit_callbacks(execute=True):
        refused = client.post(SESSIONS, {**body, "pain_after": 11}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        stored = client.post(SESSIONS, body, format="json")

    assert (refused.status_code, stored.status_code) == (400, 201)
    assert stored.json()["pain_after"] == 2


def test_a_kept_answer_is_never_another_patients(
    auth_client,
    patient_user,
    other_patient_user,
    prescription,
    other_prescription,
    django_capture_on_commit_callbacks,
):
    body = session_body(prescription)
    with django_capture_on_commit_callbacks(execute=True):
        mine = auth_client(patient_user).post(SESSIONS, body, format="json")
    theirs = auth_client(other_patient_user).post(
        SESSIONS, session_body(other_prescription, client_id=body["client_id"]), format="json"
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["prescription"] == other_prescription.pk


def test_erasure_forgets_the_kept_answers(
    client, patient, prescription, django_capture_on_commit_callbacks
):
    from programs.privacy import patient_erase

    body = session_body(prescription)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SESSIONS, body, format="json")
    key = {"kind": answers.SESSION_UPLOAD, "owner_id": patient.pk}
    assert answers.answer_stored(**key, client_id=uuid.UUID(body["client_id"])) is not None

    with django_capture_on_commit_callbacks(execute=True):
        patient_erase(patient=patient)

    assert answers.answer_stored(**key, client_id=uuid.UUID(body["client_id"])) is None


def test_a_single_session_can_be_read_back(client, prescription):
    created = client.post(SESSIONS, session_body(prescription), format="json").json()

    response = client.get(f"{SESSIONS}{created['id']}/")

    assert response.status_code == 200
    assert response.json() == created


# --- isolation ----------------------------------------------------------------------------------


def test_a_patient_never_sees_another_patients_sessions(
    auth_client, patient_user, other_patient_user, prescription, other_prescription
):
    record(prescription)
    theirs = record(other_prescription)
    client = auth_client(patient_user)

    listed = client.get(SESSIONS).json()["results"]
    detail = client.get(f"{SESSIONS}{theirs.pk}/")

    assert [s["prescription"] for s in listed] == [prescription.pk]
    assert detail.status_code == 404
    assert detail.json()["type"] == "not_found"


@pytest.mark.parametrize(
    "role", ["therapist_user", "clinic_admin_user", "other_clinic_therapist_user"]
)
def test_staff_get_403_on_the_patient_session_endpoints(request, auth_client, prescription, role):
    client = auth_client(request.getfixturevalue(role))

    assert client.get(SESSIONS).status_code == 403
    assert client.post(SESSIONS, session_body(prescription), format="json").status_code == 403
    assert client.post(f"{SESSIONS}sync/", {"sessions": []}, format="json").status_code == 403
    assert not SessionLog.objects.exists()


def test_anonymous_callers_get_401(api_client):
    response = api_client.get(SESSIONS)

    assert response.status_code == 401
    assert response.json()["type"] == "not_authenticated"


def test_a_time_without_offset_is_refused_as_ambiguous(client, patient, prescription):
    naive = timezone.now().replace(tzinfo=None).isoformat()

    response = client.post(SESSIONS, session_body(prescription, performed_at=naive), format="json")

    assert response.status_code == 400
    assert "offset" in response.json()["errors"]["performed_at"][0]


@pytest.mark.parametrize("session_id", ["abc", "null,null", "99999999999999999999999"])
def test_an_unknown_session_id_answers_the_json_404(client, session_id):
    response = client.get(f"{SESSIONS}{session_id}/")

    assert response.status_code == 404
    assert response.json()["type"] == "not_found"


# --- concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_upload_and_its_audit_row_are_one_durable_commit(
    auth_client, patient_user, prescription
):
    client = auth_client(patient_user)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(SESSIONS, session_body(prescription), format="json")

    assert response.status_code == 201
    commits = [q["sql"] for q in queries.captured_queries if q["sql"].upper() == "COMMIT"]
    assert len(commits) == 1
    assert AuditEvent.objects.filter(path=SESSIONS, method="POST", status_code=201).count() == 1
    assert SessionLog.objects.filter(client_id=response.json()["client_id"]).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_uploads_store_one_session(auth_client, patient_user, prescription):
    import threading

    from django.db import connection

    body = session_body(prescription)
    clients = [auth_client(patient_user) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    ids: set[int] = set()

    def upload(client):
        try:
            barrier.wait(10)
            response = client.post(SESSIONS, body, format="json")
            statuses.append(response.status_code)
            ids.add(response.json()["id"])
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(ids) == 1
    assert SessionLog.objects.filter(client_id=body["client_id"]).count() == 1
    assert ExerciseLog.objects.filter(session__client_id=body["client_id"]).count() == 3


# --- rendering ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["UTC", "America/New_York"])
def test_sessions_render_as_drf_would_render_the_declared_fields(
    patient, prescription, therapist, zone
):
    from django.utils import timezone as django_timezone
    from rest_framework import serializers

    from api.v1.common_serializers import SessionLogOutputSerializer
    from programs.selectors import patient_sessions

    on_protocol = factories.create_patient(clinic=patient.clinic, therapist=therapist)
    protocol_program = program_services.program_assign(
        patient=on_protocol,
        prescriber=therapist,
        protocol=Protocol.objects.filter(phases__isnull=False).order_by("pk").first(),
        start_date=on_protocol.local_date() - dt.timedelta(days=3),
        allow_precaution_override=True,
        override_reason="test",
    )
    record(prescription)  # entries, a custom program (no phase)
    record(prescription, days_ago=0, pain_after=None, notes="")
    program_services.session_record(
        patient=patient,
        client_id=uuid.uuid4(),
        performed_at=timezone.now(),
        entries=[
            program_services.ExerciseEntry(
                prescribed_exercise_id=pk, completed=False, skipped_reason="Too sore"
            )
            for pk in prescription.exercises.values_list("pk", flat=True)[:1]
        ],
    )
    program_services.session_record(  # no entries, a protocol's phase
        patient=on_protocol, client_id=uuid.uuid4(), performed_at=timezone.now(), pain_before=4
    )
    sessions = [*patient_sessions(patient), *patient_sessions(on_protocol)]
    serializer = SessionLogOutputSerializer()

    assert len(sessions) == 4
    assert {s.phase_id is None for s in sessions} == {True, False}
    assert {len(s.entries.all()) for s in sessions} == {0, 1, 3}
    assert protocol_program.current_phase_id in {s.phase_id for s in sessions}
    with django_timezone.override(zone):
        for session in sessions:
            assert serializer.to_representation(session) == (
                serializers.ModelSerializer.to_representation(serializer, session)
            )


def test_a_retry_answered_by_the_database_is_not_kept_again(
    client, patient, prescription, django_capture_on_commit_callbacks
):
    # An answer lives at most its lifetime after the session's creation, which is what
    # erasure relies on to find the answers still alive.
    body = session_body(prescription)
    key = {
        "kind": answers.SESSION_UPLOAD,
        "owner_id": patient.pk,
        "client_id": uuid.UUID(body["client_id"]),
    }
    with django_capture_on_commit_callbacks(execute=True):
        client.post(SESSIONS, body, format="json")
    assert answers.answer_stored(**key) is not None
    cache.delete(answers.answer_key(**key))  # expired

    with django_capture_on_commit_callbacks(execute=True):
        retried = client.post(SESSIONS, body, format="json")

    assert retried.status_code == 200
    assert answers.answer_stored(**key) is None
