import datetime as dt
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients import instruments, red_flags
from patients.models import ALL_WEEKDAYS, CheckIn, MeasureResponse, Patient
from programs import services as program_services
from programs.models import Alert
from tests import factories
from tests.api.conftest import claim_patient, queries_outside_audit

pytestmark = pytest.mark.django_db

ME = "/api/v1/me/"
PLAN = "/api/v1/me/plan/"
PROGRESS = "/api/v1/me/progress/"
CHECKINS = "/api/v1/me/checkins/"
QUESTIONS = "/api/v1/me/checkins/questions/"
MEASURES = "/api/v1/me/measures/"
INSTRUMENTS = "/api/v1/instruments/"

PATIENT_ONLY = [
    ("get", ME),
    ("patch", ME),
    ("get", PLAN),
    ("get", PROGRESS),
    ("get", "/api/v1/me/sessions/"),
    ("post", "/api/v1/me/sessions/"),
    ("post", "/api/v1/me/sessions/sync/"),
    ("get", CHECKINS),
    ("post", CHECKINS),
    ("get", QUESTIONS),
    ("get", MEASURES),
    ("post", MEASURES),
]

HOOS_JR_RAW_7 = {"q1": 2, "q2": 1, "q3": 1, "q4": 1, "q5": 1, "q6": 1}


@pytest.fixture
def client(auth_client, patient_user):
    return auth_client(patient_user)


def log(prescription, *, days_ago: int = 0, pain_after: int = 3):
    return factories.record_session(
        prescription, days_ago=days_ago, pain_before=pain_after, pain_after=pain_after
    )[0]


# --- who may call -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), PATIENT_ONLY)
@pytest.mark.parametrize(
    "role", ["therapist_user", "clinic_admin_user", "other_clinic_therapist_user"]
)
def test_staff_get_403_on_every_me_endpoint(request, auth_client, method, url, role):
    response = getattr(auth_client(request.getfixturevalue(role)), method)(url, {}, format="json")

    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied"


@pytest.mark.parametrize(("method", "url"), [*PATIENT_ONLY, ("get", INSTRUMENTS)])
def test_anonymous_callers_get_401(api_client, method, url):
    response = getattr(api_client, method)(url, {}, format="json")

    assert response.status_code == 401
    assert response.json()["type"] == "not_authenticated"


def test_a_discharged_patient_is_refused(client, patient):
    program_services.patient_discharge(patient=patient)

    assert client.get(ME).status_code == 403


# --- me ------------------------------------------------------------------------------------------


def test_me_shows_profile_clinic_therapist_and_reminders(client, patient, clinic, therapist):
    body = client.get(ME).json()

    assert body["id"] == patient.pk
    assert body["clinic"] == {"id": clinic.pk, "name": clinic.name}
    assert body["therapist"]["name"] == therapist.display_name
    assert body["condition_label"] == "Total hip replacement"
    assert body["reminder_weekdays"] == [1, 2, 3, 4, 5, 6, 7]
    assert body["timezone"] == patient.timezone
    assert {p["tag"] for p in body["precautions"]} == set(patient.precaution_tags)
    assert "invite_code" not in body


def test_patch_changes_reminder_preferences_and_timezone(client, patient):
    response = client.patch(
        ME,
        {
            "reminder_weekdays": [5, 1, 3],
            "reminder_time": "07:30",
            "reminder_channel": "sms",
            "timezone": "Europe/Berlin",
            "quiet_hours_start": "22:00",
            "quiet_hours_end": "07:00",
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    patient.refresh_from_db()
    assert patient.reminder_weekdays == 0b10101
    assert patient.reminder_time == dt.time(7, 30)
    assert patient.reminder_channel == "sms"
    assert patient.timezone == "Europe/Berlin"
    assert response.json()["reminder_weekdays"] == [1, 3, 5]


def test_patch_with_no_weekdays_turns_every_day_off(client, patient):
    assert client.patch(ME, {"reminder_weekdays": []}, format="json").status_code == 200

    patient.refresh_from_db()
    assert patient.reminder_weekdays == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"first_name": "Mallory"}, "first_name"),
        ({"precaution_tags": []}, "precaution_tags"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"reminder_weekdays": [0]}, "reminder_weekdays.0"),
        ({"reminder_weekdays": [8]}, "reminder_weekdays.0"),
        ({"reminder_weekdays": [1, 1]}, "reminder_weekdays"),
        ({"reminder_channel": "pigeon"}, "reminder_channel"),
        ({"quiet_hours_start": "22:00"}, "quiet_hours_end"),
        ({}, "non_field_errors"),
    ],
)
def test_patch_refuses_anything_else(client, patient, change, field):
    response = client.patch(ME, change, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    refreshed = Patient.objects.get(pk=patient.pk)
    assert refreshed.first_name == patient.first_name
    assert refreshed.reminder_weekdays == ALL_WEEKDAYS
    assert refreshed.timezone == patient.timezone


# --- plan ----------------------------------------------------------------------------------------


def test_the_plan_lists_todays_exercises_with_dosage_and_instructions(
    client, patient, prescription
):
    body = client.get(PLAN).json()

    assert body["today"] == patient.local_date().isoformat()
    assert body["logged_today"] is False
    (program,) = body["programs"]
    assert program["id"] == prescription.pk
    assert program["planned_today"] is True
    assert program["sessions_per_week"] == prescription.sessions_per_week
    exercise = program["exercises"][0]
    entry = prescription.exercises.order_by("order", "id").first()
    assert exercise["id"] == entry.pk
    assert (exercise["sets"], exercise["reps"]) == (entry.sets, entry.reps)
    assert exercise["exercise"]["instructions"] == entry.exercise.instructions
    assert {p["tag"] for p in body["precautions"]} >= set(patient.precaution_tags)


def test_the_plan_says_when_todays_session_is_logged(client, prescription):
    log(prescription)

    body = client.get(PLAN).json()

    assert body["logged_today"] is True
    assert body["sessions_today"] == 1
    assert body["programs"][0]["logged_today"] is True


def test_the_plan_of_a_protocol_program_shows_its_phase(auth_client, clinic, therapist):
    from programs.models import Protocol

    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    protocol = Protocol.objects.get(slug="total-hip-replacement-posterior")
    prescription = program_services.program_assign(
        patient=patient, prescriber=therapist, protocol=protocol
    )
    client = auth_client(claim_patient(patient, "thr-patient"))

    (program,) = client.get(PLAN).json()["programs"]

    assert program["protocol"]["slug"] == protocol.slug
    assert program["phase"]["name"] == prescription.current_phase.name
    assert len(program["exercises"]) == prescription.exercises.filter(active=True).count()


def test_a_paused_program_is_shown_but_not_planned(client, prescription):
    program_services.program_pause(prescription=prescription)

    (program,) = client.get(PLAN).json()["programs"]

    assert program["status"] == "paused"
    assert program["planned_today"] is False


def test_removed_exercises_are_not_in_the_plan(client, prescription):
    removed = prescription.exercises.first()
    program_services.prescription_remove_exercise(prescribed_exercise=removed)

    (program,) = client.get(PLAN).json()["programs"]

    assert removed.pk not in [e["id"] for e in program["exercises"]]
    assert len(program["exercises"]) == 2


def test_the_plan_query_count_does_not_grow_with_programs_or_exercises(
    client, patient, therapist, prescription
):
    with CaptureQueriesContext(connection) as one_program:
        client.get(PLAN)
    factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=factories.ExerciseFactory.create_batch(8)
    )

    with CaptureQueriesContext(connection) as two_programs:
        assert len(client.get(PLAN).json()["programs"]) == 2

    assert len(two_programs.captured_queries) == len(one_program.captured_queries)
    # user, patient, programs, their exercises, sessions today
    assert len(queries_outside_audit(one_program.captured_queries)) <= 5


# --- check-ins -----------------------------------------------------------------------------------


def test_the_questions_are_listed_for_the_app(client):
    body = client.get(QUESTIONS).json()

    assert [q["key"] for q in body] == [q.key for q in red_flags.QUESTIONS]
    assert all(q["text"] and q["advice"] for q in body)


def test_a_red_flag_check_in_alerts_the_clinic_and_advises_the_patient(client, patient):
    response = client.post(
        CHECKINS,
        {"pain_now": 7, "answers": {"chest_pain_or_breathless": True, "fever_wound": False}},
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["urgency"] == "emergency"
    assert "emergency services" in body["advice"]
    assert body["clinic_alerted"] is True
    assert [f["key"] for f in body["red_flags"]] == ["chest_pain_or_breathless"]
    assert body["checkin"]["red_flags"] == ["chest_pain_or_breathless"]
    alert = Alert.objects.get(patient=patient)
    assert (alert.kind, alert.severity) == ("red_flag", "urgent")


def test_a_check_in_without_red_flags_opens_no_alert(client, patient):
    response = client.post(
        CHECKINS, {"pain_now": 2, "answers": {"calf_swelling": False}}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert body["urgency"] is None
    assert body["clinic_alerted"] is False
    assert body["advice"] == red_flags.NO_RED_FLAG_ADVICE
    assert not Alert.objects.exists()
    assert CheckIn.objects.filter(patient=patient).count() == 1


def test_a_retried_check_in_returns_the_stored_one(client, patient):
    body = {"client_id": str(uuid.uuid4()), "pain_now": 5, "answers": {"calf_swelling": True}}

    first = client.post(CHECKINS, body, format="json")
    again = client.post(CHECKINS, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["checkin"]["id"] == first.json()["checkin"]["id"]
    assert again.json()["urgency"] == "urgent"
    assert CheckIn.objects.count() == 1
    assert Alert.objects.count() == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"pain_now": 11, "answers": {}}, "pain_now"),
        ({"answers": {}}, "pain_now"),
        ({"pain_now": 3, "answers": {"made_up": True}}, "answers.made_up"),
        ({"pain_now": 3, "answers": {"calf_swelling": "perhaps"}}, "answers.calf_swelling"),
        ({"pain_now": 3, "answers": ["calf_swelling"]}, "answers"),
        ({"pain_now": 3, "answers": {}, "notes": "x" * 2001}, "notes"),
    ],
)
def test_invalid_check_ins_answer_400(client, payload, field):
    response = client.post(CHECKINS, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()
    assert not CheckIn.objects.exists()
    assert not Alert.objects.exists()


def test_check_ins_are_listed_for_their_patient_only(
    client, patient, other_patient, other_patient_user
):
    program_services.checkin_record(patient=patient, pain_now=2, answers={})
    program_services.checkin_record(patient=other_patient, pain_now=4, answers={})

    listed = client.get(CHECKINS).json()["results"]

    assert [c["pain_now"] for c in listed] == [2]


# --- instruments and measures --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["patient_user", "therapist_user"])
def test_instrument_definitions_are_open_to_any_signed_in_user(request, auth_client, role):
    body = auth_client(request.getfixturevalue(role)).get(INSTRUMENTS).json()

    assert [i["code"] for i in body] == list(instruments.INSTRUMENTS)
    hoos = next(i for i in body if i["code"] == "hoos_jr")
    assert len(hoos["items"]) == 6
    assert hoos["items"][0]["options"][0] == {"value": 0, "label": "None"}
    psfs = next(i for i in body if i["code"] == "psfs")
    assert psfs["response_format"] == "activities"
    assert psfs["activity"]["name_max_length"] == instruments.PSFS_ACTIVITY_NAME_MAX_LENGTH


def test_a_hoos_jr_submission_is_scored_by_the_table(client, patient):
    response = client.post(
        MEASURES, {"instrument": "hoos_jr", "answers": HOOS_JR_RAW_7}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["raw_score"] == 7
    assert body["score"] == pytest.approx(instruments.HOOS_JR_INTERVAL_SCORES[7])
    assert body["score"] == pytest.approx(67.516)
    assert body["recorded_by_clinic"] is False
    assert MeasureResponse.objects.get(patient=patient).recorded_by_id is None


def test_invalid_answers_answer_400_with_item_keys(client, patient):
    answers = {**HOOS_JR_RAW_7, "q3": 5, "q9": 1}
    del answers["q6"]

    response = client.post(MEASURES, {"instrument": "hoos_jr", "answers": answers}, format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"answers.q3", "answers.q6", "answers.q9"}
    assert not MeasureResponse.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"instrument": "oxford_hip", "answers": {}}, "instrument"),
        ({"instrument": "nprs", "answers": [3]}, "answers"),
        (
            {"instrument": "nprs", "answers": {"pain": 3}, "taken_at": "2025-01-01T10:00"},
            "taken_at",
        ),
        ({"instrument": "nprs"}, "answers"),
    ],
)
def test_other_invalid_measures_answer_400(client, payload, field):
    response = client.post(MEASURES, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_a_retried_measure_returns_the_stored_one(client):
    body = {"client_id": str(uuid.uuid4()), "instrument": "nprs", "answers": {"pain": 4}}

    first = client.post(MEASURES, body, format="json")
    again = client.post(MEASURES, body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert MeasureResponse.objects.count() == 1


def test_a_falling_score_opens_a_score_decline_alert(
    client, patient, django_capture_on_commit_callbacks
):
    earlier = (timezone.now() - dt.timedelta(days=14)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            MEASURES,
            {"instrument": "nprs", "answers": {"pain": 2}, "taken_at": earlier},
            format="json",
        )
        client.post(MEASURES, {"instrument": "nprs", "answers": {"pain": 6}}, format="json")

    alert = Alert.objects.get(patient=patient)
    assert alert.kind == Alert.Kind.SCORE_DECLINE


def test_measures_are_listed_for_their_patient_only_and_filter_by_instrument(
    client, patient, other_patient, other_patient_user
):
    program_services.measure_submit(patient=patient, instrument="nprs", answers={"pain": 3})
    program_services.measure_submit(patient=patient, instrument="hoos_jr", answers=HOOS_JR_RAW_7)
    program_services.measure_submit(patient=other_patient, instrument="nprs", answers={"pain": 8})

    everything = client.get(MEASURES).json()["results"]
    pain_only = client.get(MEASURES, {"instrument": "nprs"}).json()["results"]

    assert sorted(m["instrument"] for m in everything) == ["hoos_jr", "nprs"]
    assert [m["score"] for m in pain_only] == [3]


# --- progress ------------------------------------------------------------------------------------


def test_progress_summarises_adherence_and_pain(auth_client, clinic, therapist):
    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    prescription = factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=factories.ExerciseFactory.create_batch(2),
        start_date=patient.local_date() - dt.timedelta(days=20),
        sessions_per_week=7,
    )
    for days_ago, pain in [(20, 6), (19, 6), (18, 5), (10, 4), (5, 3), (2, 2), (1, 2)]:
        log(prescription, days_ago=days_ago, pain_after=pain)
    program_services.measure_submit(patient=patient, instrument="nprs", answers={"pain": 2})
    client = auth_client(claim_patient(patient, "progress-patient"))

    response = client.get(PROGRESS)

    assert response.status_code == 200
    body = response.json()
    assert body["today"] == patient.local_date().isoformat()
    assert body["program"]["id"] == prescription.pk
    assert body["program"]["weeks_since_start"] == 2
    adherence = body["adherence"]
    assert adherence["recent_days"] == 14
    assert adherence["recent_sessions_done"] == 4
    assert 0 < adherence["recent_ratio"] < 1
    assert adherence["on_track"] is False
    assert adherence["weeks"]
    assert {"iso_week", "ratio", "complete", "on_track"} <= set(adherence["weeks"][0])
    pain = body["pain"]
    assert pain["latest"] == 2
    assert pain["baseline"] == pytest.approx(5.67, abs=0.01)
    assert pain["change_from_baseline"] < 0
    assert pain["mcid_improved"] is True
    assert len(pain["days"]) == 7
    assert body["readiness"] is None  # a custom program has no phase criteria
    assert body["measures"][0]["instrument"] == "nprs"


def test_progress_without_sessions(client, prescription):
    body = client.get(PROGRESS).json()

    assert body["pain"]["latest"] is None
    assert body["pain"]["days"] == []
    assert body["program"]["id"] == prescription.pk


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_check_ins_store_one_and_alert_once(
    auth_client, patient_user, patient
):
    import threading

    from django.db import connection

    body = {"client_id": str(uuid.uuid4()), "pain_now": 6, "answers": {"fever_wound": True}}
    clients = [auth_client(patient_user) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def send(client):
        try:
            barrier.wait(10)
            statuses.append(client.post(CHECKINS, body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert sorted(statuses) == [200, 200, 200, 201]
    assert CheckIn.objects.filter(patient=patient).count() == 1
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.RED_FLAG).count() == 1
