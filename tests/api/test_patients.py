import datetime as dt

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers

from api.v1.filters import PatientFilter
from api.v1.therapist.patient_serializers import PatientRowSerializer
from patients.models import Patient
from programs import alerts as program_alerts
from programs import selectors
from programs import services as program_services
from programs.adherence import recent_adherence
from programs.models import Alert, Prescription, Protocol
from tests import factories
from tests.api.conftest import claim_patient, queries_outside_audit
from tests.api.staff_data import (
    busy_clinic_patients,
    log_session,
    open_alert,
    patient_with_program,
)

PATIENTS = "/api/v1/patients/"


def is_read(sql: str) -> bool:
    return sql.lstrip().upper().startswith("SELECT")


@pytest.fixture
def started_program(patient, therapist, exercises):
    """The patient's program, started 40 days ago so sessions can be back-dated."""
    return factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=patient.local_date() - dt.timedelta(days=40),
    )


def patient_url(patient, suffix=""):
    return f"{PATIENTS}{patient.pk}/{suffix}"


def all_pages(client, url, params=None):
    """Follow `next` links; returns every row and the number of pages."""
    rows, pages = [], 0
    response = client.get(url, params or {})
    while True:
        assert response.status_code == 200, response.data
        rows += response.data["results"]
        pages += 1
        if not response.data["next"]:
            return rows, pages
        response = client.get(response.data["next"])


# --- list -----------------------------------------------------------------------------------


def test_list_shows_every_patient_of_the_clinic_with_their_progress_row(
    auth_client, therapist_user, clinic, therapist, patient, prescription
):
    colleague = factories.PractitionerFactory(clinic=clinic)
    colleagues_patient = patient_with_program(clinic, colleague, first_name="Casey")
    log_session(patient, days_ago=0, pain_after=4)
    open_alert(patient, Alert.Kind.PAIN_SPIKE)
    open_alert(patient, Alert.Kind.RED_FLAG, Alert.Severity.URGENT)
    other_clinic = factories.ClinicFactory()
    factories.create_patient(
        clinic=other_clinic, therapist=factories.PractitionerFactory(clinic=other_clinic)
    )

    response = auth_client(therapist_user).get(PATIENTS)

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.data["results"]}
    # Therapists see the whole clinic (a colleague's patients too), never another clinic.
    assert set(rows) == {patient.pk, colleagues_patient.pk}
    row = rows[patient.pk]
    assert row["full_name"] == patient.full_name
    assert row["therapist"]["id"] == therapist.pk
    assert row["program"]["id"] == prescription.pk
    assert row["last_session_on"] == patient.local_date().isoformat()
    assert row["latest_pain"] == 4
    assert row["open_alerts"] == 2
    assert row["top_severity"] == "urgent"
    assert 0 <= row["adherence_recent"] <= 1
    assert rows[colleagues_patient.pk]["open_alerts"] == 0
    assert rows[colleagues_patient.pk]["last_session_on"] is None


def test_list_query_count_does_not_grow_with_page_or_clinic_size(
    auth_client, therapist_user, clinic, therapist
):
    client = auth_client(therapist_user)

    def count_reads(page_size):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(PATIENTS, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.data["results"]) == page_size
        assert all(row["open_alerts"] == 1 for row in response.data["results"])
        # The endpoint's own reads (not the audit trail's insert or transaction control).
        return [sql for sql in queries_outside_audit(queries.captured_queries) if is_read(sql)]

    busy_clinic_patients(clinic, therapist, 10)
    small = count_reads(10)
    busy_clinic_patients(clinic, therapist, 50, first=10)
    large = count_reads(60)

    assert len(large) == len(small)
    # Auth (the user with practitioner and clinic), the page's ordering key, then the rows:
    # patients with program, last session and alerts; sessions per day; program history.
    assert len(small) == 5, small


def every_shape_of_row(clinic, therapist):
    """Patients whose rows take every shape, by name: no program; a protocol program that
    changed phase three days ago; a custom program with pain falling over two weeks and an
    urgent plus an acknowledged alert; a paused program; only a completed program; an open
    program older than a completed one."""
    protocol = Protocol.objects.filter(phases__order=2).order_by("pk").first()
    named = {"nothing": factories.create_patient(clinic=clinic, therapist=therapist)}

    on_protocol = factories.create_patient(clinic=clinic, therapist=therapist, first_name="Pro")
    today = on_protocol.local_date()
    program = program_services.program_assign(
        patient=on_protocol,
        prescriber=therapist,
        protocol=protocol,
        start_date=today - dt.timedelta(days=9),
        allow_precaution_override=True,
        override_reason="test",
    )
    program_services.phase_advance(
        prescription=program,
        on_date=today - dt.timedelta(days=3),
        allow_precaution_override=True,
        override_reason="test",
    )
    log_session(on_protocol, days_ago=5, pain_after=None)
    named["protocol"] = on_protocol

    custom = patient_with_program(clinic, therapist, first_name="Custom", start_days_ago=20)
    for days_ago, pain in [(0, 2), (1, 3), (8, 6), (10, 7)]:
        log_session(custom, days_ago=days_ago, pain_after=pain)
    open_alert(custom, Alert.Kind.RED_FLAG, Alert.Severity.URGENT)
    acknowledged = open_alert(custom, Alert.Kind.INACTIVE, Alert.Severity.WARNING)
    program_alerts.alert_acknowledge(alert=acknowledged, by=therapist.user)
    named["custom"] = custom

    paused = patient_with_program(clinic, therapist, first_name="Paused", start_days_ago=20)
    log_session(paused, days_ago=5, pain_after=5)
    program_services.program_pause(
        prescription=paused.prescriptions.get(), on_date=today - dt.timedelta(days=2)
    )
    named["paused"] = paused

    completed = patient_with_program(clinic, therapist, first_name="Done", start_days_ago=30)
    log_session(completed, days_ago=12, pain_after=4)
    program_services.program_complete(
        prescription=completed.prescriptions.get(), on_date=today - dt.timedelta(days=10)
    )
    named["completed"] = completed

    both = patient_with_program(clinic, therapist, first_name="Both", start_days_ago=20)
    newer = factories.assign_custom_program(
        patient=both,
        prescriber=therapist,
        exercises=factories.ExerciseFactory.create_batch(1),
        start_date=today - dt.timedelta(days=5),
    )
    program_services.program_complete(prescription=newer, on_date=today - dt.timedelta(days=1))
    named["both"] = both
    return named


def test_list_rows_hold_the_figures_of_every_shape_of_row(
    auth_client, therapist_user, clinic, therapist
):
    named = every_shape_of_row(clinic, therapist)

    response = auth_client(therapist_user).get(PATIENTS)

    assert response.status_code == 200
    rows = {row["id"]: row for row in response.data["results"]}
    row = {name: rows[patient.pk] for name, patient in named.items()}
    assert row["nothing"]["program"] is None
    assert row["nothing"]["adherence_recent"] is None
    assert row["nothing"]["weeks_since_start"] is None
    assert row["nothing"]["pain_direction"] is None
    assert row["protocol"]["program"]["current_phase"]["order"] == 2
    assert row["protocol"]["last_session_on"] is not None
    assert row["protocol"]["latest_pain"] == 2  # no pain after: the pain before
    assert row["custom"]["latest_pain"] == 2
    assert row["custom"]["pain_direction"] == "improving"
    assert (row["custom"]["open_alerts"], row["custom"]["top_severity"]) == (1, "urgent")
    # 14 planned days (today counts: a session was logged) × 5/7 = 10 planned, 4 done.
    assert row["custom"]["adherence_recent"] == pytest.approx(0.4)
    # Today (nothing logged yet) and the two paused days plan nothing: 11 × 5/7 planned.
    assert row["paused"]["program"]["status"] == "paused"
    assert row["paused"]["adherence_recent"] == pytest.approx(1 / 7.8571)
    assert row["completed"]["program"]["status"] == "completed"
    assert row["completed"]["adherence_recent"] is None
    assert row["completed"]["weeks_since_start"] == 4
    assert row["both"]["program"]["id"] == named["both"].prescriptions.get(status="active").pk
    # Adherence as the per-program engine computes it (`recent_adherence`).
    for name, patient in named.items():
        program = selectors.current_prescription(patient)
        if program is None or program.status == "completed":
            continue
        today = patient.local_date()
        expected = recent_adherence(
            [program], days=clinic.adherence_window_days, today_by_prescription={program.pk: today}
        )[program.pk].ratio
        assert row[name]["adherence_recent"] == expected, name
        assert row[name]["weeks_since_start"] == (today - program.start_date).days // 7


def test_list_rows_equal_drf_rendering_of_the_overview_rows(
    auth_client, therapist_user, clinic, therapist
):
    """The list reads plain values and renders them directly; the dashboard's overview reads
    model instances. DRF's generic rendering of the declared fields over those instances is
    the reference, for every shape of row; and the direct rendering equals DRF's over the
    list's own plain rows."""
    every_shape_of_row(clinic, therapist)

    response = auth_client(therapist_user).get(PATIENTS)

    assert response.status_code == 200
    serializer = PatientRowSerializer()
    reference = {
        row.patient.pk: serializers.Serializer.to_representation(serializer, row)
        for row in selectors.clinic_overview(clinic)
    }
    assert len(reference) == 6
    assert {row["id"]: row for row in response.data["results"]} == reference
    page = list(selectors.patient_list_page(Patient.objects.filter(clinic=clinic)))
    for row in selectors.patient_list_rows(clinic, page):
        assert serializer.to_representation(row) == serializers.Serializer.to_representation(
            serializer, row
        )


def test_list_shows_a_change_at_once(
    auth_client, therapist_user, clinic, therapist, django_capture_on_commit_callbacks
):
    """Rows are kept in the cache (programs.row_cache), yet a new session, an alert opened or
    acknowledged, a pause show on the next request once their transaction commits."""
    patient = patient_with_program(clinic, therapist)
    client = auth_client(therapist_user)

    def row():
        response = client.get(PATIENTS)
        assert response.status_code == 200
        (only,) = response.data["results"]
        return only

    before = row()
    assert (before["last_session_on"], before["open_alerts"]) == (None, 0)
    assert row() == before  # kept, and still current
    with django_capture_on_commit_callbacks(execute=True):
        log_session(patient, days_ago=0, pain_after=4)  # no pain spike: no alert of its own
        alert = open_alert(patient)
    after = row()
    assert after["last_session_on"] == patient.local_date().isoformat()
    assert after["latest_pain"] == 4
    assert after["adherence_recent"] > before["adherence_recent"]
    assert (after["open_alerts"], after["top_severity"]) == (1, "warning")
    with django_capture_on_commit_callbacks(execute=True):
        program_alerts.alert_acknowledge(alert=alert, by=therapist.user)
        program_services.program_pause(prescription=patient.prescriptions.get())
    paused = row()
    assert (paused["open_alerts"], paused["top_severity"]) == (0, None)
    assert paused["program"]["status"] == "paused"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "kowal"}, {"kowalski"}),
        ({"search": "RIN KOW"}, {"kowalski"}),
        ({"search": "zz"}, set()),
        ({"status": "discharged"}, {"discharged"}),
        ({"has_open_alerts": "true"}, {"kowalski"}),
        ({"has_open_alerts": "false"}, {"discharged", "colleague", "no-program"}),
        ({"protocol": "total-hip-replacement-posterior"}, {"colleague"}),
    ],
)
def test_list_filters(auth_client, therapist_user, clinic, therapist, params, expected):
    colleague = factories.PractitionerFactory(clinic=clinic)
    named = {
        "kowalski": patient_with_program(
            clinic, therapist, first_name="Irina", last_name="Kowalski"
        ),
        "discharged": patient_with_program(clinic, therapist, last_name="Gone"),
        "colleague": factories.create_patient(
            clinic=clinic, therapist=colleague, last_name="Other"
        ),
        "no-program": factories.create_patient(clinic=clinic, therapist=therapist, last_name="New"),
    }
    from programs import services as program_services
    from programs.models import Protocol

    program_services.patient_discharge(patient=named["discharged"])
    program_services.program_assign(
        patient=named["colleague"],
        prescriber=colleague,
        protocol=Protocol.objects.get(slug="total-hip-replacement-posterior"),
    )
    open_alert(named["kowalski"])
    names = {patient.pk: name for name, patient in named.items()}

    response = auth_client(therapist_user).get(PATIENTS, params)

    assert response.status_code == 200
    assert {names[row["id"]] for row in response.data["results"]} == expected


def test_list_filters_by_therapist_and_by_protocol_id(
    auth_client, therapist_user, clinic, therapist
):
    from programs import services as program_services
    from programs.models import Protocol

    colleague = factories.PractitionerFactory(clinic=clinic)
    mine = patient_with_program(clinic, therapist)
    theirs = factories.create_patient(clinic=clinic, therapist=colleague)
    protocol = Protocol.objects.get(slug="total-hip-replacement-posterior")
    program_services.program_assign(patient=theirs, prescriber=colleague, protocol=protocol)
    client = auth_client(therapist_user)

    by_therapist = client.get(PATIENTS, {"therapist": therapist.pk}).data["results"]
    by_protocol = client.get(PATIENTS, {"protocol": protocol.pk}).data["results"]

    assert [row["id"] for row in by_therapist] == [mine.pk]
    assert [row["id"] for row in by_protocol] == [theirs.pk]


def test_every_patient_filter_reads_the_parameter_of_its_name_and_has_no_default():
    """The list skips django-filter when the query names none of its filters: right only while
    each filter reads exactly the parameter of its name (no suffixed range widgets) and none
    filters when absent."""
    form = PatientFilter(data={}, queryset=Patient.objects.none()).form
    assert set(form.fields) == set(PatientFilter.base_filters)
    for name, field in form.fields.items():
        assert not isinstance(field.widget, forms.MultiWidget), name
        assert field.widget.value_from_datadict({name: "true"}, {}, name) is not None, name
    assert form.is_valid()
    assert all(value in (None, "") for value in form.cleaned_data.values())


def test_bad_filter_value_is_400_in_the_error_shape(auth_client, therapist_user):
    response = auth_client(therapist_user).get(PATIENTS, {"status": "asleep"})

    assert response.status_code == 400
    assert response.data["type"] == "invalid"
    assert "status" in response.data["errors"]


def test_list_pages_alphabetically_through_namesakes_without_gaps_or_repeats(
    auth_client, therapist_user, clinic, therapist
):
    for index in range(7):
        factories.create_patient(
            clinic=clinic, therapist=therapist, first_name="Sam", last_name="Lee"
        )
        factories.create_patient(
            clinic=clinic, therapist=therapist, first_name=f"N{index}", last_name=f"Name{index % 3}"
        )
    client = auth_client(therapist_user)

    rows, pages = all_pages(client, PATIENTS, {"page_size": 3})

    ids = [row["id"] for row in rows]
    assert pages == 5
    assert sorted(ids) == sorted(Patient.objects.filter(clinic=clinic).values_list("pk", flat=True))
    expected = list(
        Patient.objects.filter(clinic=clinic)
        .order_by("last_name", "first_name", "id")
        .values_list("pk", flat=True)
    )
    assert ids == expected
    # And back again from the last page.
    last = client.get(PATIENTS, {"page_size": 3})
    while last.data["next"]:
        last = client.get(last.data["next"])
    back = client.get(last.data["previous"])
    assert [row["id"] for row in back.data["results"]] == expected[9:12]


def test_a_garbled_cursor_is_404_not_500(auth_client, therapist_user, patient):
    import base64

    client = auth_client(therapist_user)
    for position in (
        '["x",1]',
        '[null,"a",1]',
        '["a","b","not-an-id"]',
        '["\\u0000","a",1]',
        "{}",
        "nope",
    ):
        cursor = base64.b64encode(f"p={position}".encode()).decode()
        response = client.get(PATIENTS, {"cursor": cursor})
        assert response.status_code == 404, position
        assert response.data["type"] == "not_found"


# --- create, read, update -----------------------------------------------------------------------


def test_create_returns_the_invite_code_and_defaults_to_the_caller_as_therapist(
    auth_client, therapist_user, therapist, clinic
):
    response = auth_client(therapist_user).post(
        PATIENTS,
        {
            "first_name": "Nia",
            "last_name": "Adeyemi",
            "condition": "total_hip_replacement",
            "side": "right",
            "surgical_approach": "posterior",
            "surgery_date": "2025-01-15",
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    patient = Patient.objects.get(pk=response.data["id"])
    assert patient.clinic == clinic
    assert patient.therapist == therapist
    assert response.data["invite"]["code"] == patient.invite_code
    assert response.data["invite"]["is_open"] is True
    assert response.data["has_account"] is False
    # Posterior hip replacement: the service's default precautions.
    assert "hip-flexion-over-90" in response.data["precaution_tags"]
    assert patient.timezone == clinic.timezone


def test_admin_creates_a_patient_for_a_named_therapist(auth_client, clinic_admin_user, therapist):
    response = auth_client(clinic_admin_user).post(
        PATIENTS,
        {
            "first_name": "Lou",
            "last_name": "Park",
            "condition": "hip_osteoarthritis",
            "side": "left",
            "therapist": therapist.pk,
            "timezone": "Europe/London",
            "precaution_tags": [],
        },
        format="json",
    )

    assert response.status_code == 201, response.data
    assert response.data["therapist"]["id"] == therapist.pk
    assert response.data["timezone"] == "Europe/London"
    assert response.data["precaution_tags"] == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"side": "middle"}, "side"),
        ({"precaution_tags": ["no-such-tag"]}, "precaution_tags.0"),
        ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"first_name": "x" * 101}, "first_name"),
    ],
)
def test_create_refuses_bad_fields_with_field_errors(auth_client, therapist_user, changes, field):
    body = {"first_name": "A", "last_name": "B", "condition": "other", "side": "left", **changes}

    response = auth_client(therapist_user).post(PATIENTS, body, format="json")

    assert response.status_code == 400
    assert field in response.data["errors"], response.data
    assert not Patient.objects.filter(last_name="B").exists()


def test_create_refuses_a_therapist_of_another_clinic(
    auth_client, therapist_user, other_clinic_therapist
):
    response = auth_client(therapist_user).post(
        PATIENTS,
        {
            "first_name": "A",
            "last_name": "B",
            "condition": "other",
            "side": "left",
            "therapist": other_clinic_therapist.pk,
        },
        format="json",
    )

    assert response.status_code == 400
    assert "therapist" in response.data["errors"]


def test_retrieve_and_another_clinics_patient_is_404(
    auth_client, therapist_user, other_clinic_therapist_user, patient
):
    assert auth_client(therapist_user).get(patient_url(patient)).data["id"] == patient.pk
    response = auth_client(other_clinic_therapist_user).get(patient_url(patient))
    assert response.status_code == 404
    assert response.data["type"] == "not_found"


def test_patch_changes_the_record_through_the_service(auth_client, therapist_user, patient, clinic):
    colleague = factories.PractitionerFactory(clinic=clinic)

    response = auth_client(therapist_user).patch(
        patient_url(patient),
        {
            "therapist": colleague.pk,
            "precaution_tags": ["high-impact"],
            "pain_spike_absolute": 6,
            "adherence_alert_below": "0.40",
            "reminder_weekdays": [1, 2, 3, 4, 5],
        },
        format="json",
    )

    assert response.status_code == 200, response.data
    patient.refresh_from_db()
    assert patient.therapist == colleague
    assert patient.precaution_tags == ["high-impact"]
    assert patient.pain_spike_absolute == 6
    assert float(patient.adherence_alert_below) == 0.4
    assert patient.reminder_weekdays == 0b0011111
    assert response.data["reminder_weekdays"] == [1, 2, 3, 4, 5]


def test_patch_refuses_fields_it_cannot_change(auth_client, therapist_user, patient, clinic):
    response = auth_client(therapist_user).patch(
        patient_url(patient), {"status": "discharged", "invite_code": "AAAA"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.data["errors"]) == {"status", "invite_code"}
    patient.refresh_from_db()
    assert patient.status == "active"


def test_patch_quiet_hours_need_both_ends(auth_client, therapist_user, patient):
    response = auth_client(therapist_user).patch(
        patient_url(patient), {"quiet_hours_start": "22:00"}, format="json"
    )

    assert response.status_code == 400
    assert "quiet_hours_end" in response.data["errors"]


# --- discharge and invites ----------------------------------------------------------------------


def test_discharge_completes_programs_and_a_second_discharge_is_400(
    auth_client, therapist_user, patient, prescription
):
    client = auth_client(therapist_user)

    response = client.post(patient_url(patient, "discharge/"))

    assert response.status_code == 200
    assert response.data["status"] == "discharged"
    assert response.data["reminders_enabled"] is False
    prescription.refresh_from_db()
    assert prescription.status == Prescription.Status.COMPLETED
    again = client.post(patient_url(patient, "discharge/"))
    assert again.status_code == 400


def test_invite_issues_a_new_code_and_refuses_once_claimed(auth_client, therapist_user, patient):
    client = auth_client(therapist_user)
    old_code = patient.invite_code

    response = client.post(patient_url(patient, "invite/"))

    assert response.status_code == 200
    patient.refresh_from_db()
    assert response.data["code"] == patient.invite_code != old_code
    claim_patient(patient, "claimer")
    refused = client.post(patient_url(patient, "invite/"))
    assert refused.status_code == 400
    assert "invite_code" in refused.data["errors"]


# --- records ------------------------------------------------------------------------------------


def test_sessions_list_newest_first_with_entries_and_a_date_range(
    auth_client, therapist_user, patient, started_program
):
    old = log_session(patient, days_ago=10)
    recent = log_session(patient, days_ago=1)
    client = auth_client(therapist_user)

    response = client.get(patient_url(patient, "sessions/"))
    ranged = client.get(
        patient_url(patient, "sessions/"),
        {"date_from": (recent.local_date - dt.timedelta(days=2)).isoformat()},
    )

    assert [row["id"] for row in response.data["results"]] == [recent.pk, old.pk]
    assert len(response.data["results"][0]["exercises"]) == 3
    assert [row["id"] for row in ranged.data["results"]] == [recent.pk]


def test_sessions_list_query_count_does_not_grow_with_page_size(
    auth_client, therapist_user, patient, started_program
):
    client = auth_client(therapist_user)
    url = patient_url(patient, "sessions/")

    def count_queries(page_size):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, {"page_size": page_size})
        assert len(response.data["results"]) == page_size
        return len([sql for sql in queries_outside_audit(queries.captured_queries) if is_read(sql)])

    for days_ago in range(2):
        log_session(patient, days_ago=days_ago)
    small = count_queries(2)
    for days_ago in range(2, 30):
        log_session(patient, days_ago=days_ago)
    large = count_queries(30)

    assert large == small


def test_measures_and_checkins_lists(auth_client, therapist_user, patient):
    from programs import services as program_services

    program_services.measure_submit(patient=patient, instrument="nprs", answers={"pain": 4})
    program_services.checkin_record(patient=patient, pain_now=5, answers={"calf_swelling": True})
    client = auth_client(therapist_user)

    measures = client.get(patient_url(patient, "measures/"))
    checkins = client.get(patient_url(patient, "checkins/"))

    assert [row["score"] for row in measures.data["results"]] == [4.0]
    assert checkins.data["results"][0]["red_flags"] == ["calf_swelling"]


def test_progress_has_adherence_pain_readiness_measures_and_alerts(
    auth_client, therapist_user, clinic, therapist
):
    from programs import services as program_services
    from programs.models import Protocol

    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    program_services.program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=Protocol.objects.get(slug="total-hip-replacement-posterior"),
        start_date=patient.local_date() - dt.timedelta(days=20),
    )
    for days_ago in (19, 15, 10, 3, 1):
        log_session(patient, days_ago=days_ago, pain_after=6 if days_ago > 9 else 2)
    open_alert(patient)

    response = auth_client(therapist_user).get(patient_url(patient, "progress/"))

    assert response.status_code == 200
    body = response.data
    assert body["prescription"]["protocol"]["slug"] == "total-hip-replacement-posterior"
    assert body["adherence"]["overall"]["sessions_done"] == 5
    assert {"recent", "phases", "weeks", "current_streak_weeks"} <= set(body["adherence"])
    assert body["pain"]["baseline"] == 6.0
    assert body["pain"]["mcid_improved"] is True
    assert body["pain"]["direction"] == "improving"
    assert {c["key"] for c in body["readiness"]["criteria"]} >= {"min_weeks"}
    assert all({"met", "measured", "required"} <= set(c) for c in body["readiness"]["criteria"])
    assert [alert["kind"] for alert in body["open_alerts"]] == ["inactive"]


def test_records_of_another_clinics_patient_are_404(
    auth_client, other_clinic_therapist_user, patient
):
    client = auth_client(other_clinic_therapist_user)
    for suffix in ("sessions/", "measures/", "checkins/", "progress/", "prescriptions/"):
        assert client.get(patient_url(patient, suffix)).status_code == 404, suffix


@pytest.mark.parametrize("suffix", ["", "sessions/", "progress/"])
def test_patients_cannot_read_staff_endpoints_even_their_own(
    auth_client, patient_user, patient, suffix
):
    response = auth_client(patient_user).get(patient_url(patient, suffix))

    assert response.status_code == 403
    assert response.data["type"] == "permission_denied"


def test_sessions_page_through_identical_and_microsecond_apart_times(
    auth_client, therapist_user, patient, started_program
):
    from django.utils import timezone

    from programs.models import SessionLog

    sessions = [log_session(patient, days_ago=3) for _ in range(6)]
    moment = timezone.now().replace(microsecond=500_000) - dt.timedelta(days=2)
    # Three at the same instant (ties broken by id), two a microsecond apart (a millisecond
    # cursor would skip one), one on its own.
    offsets = [0, 0, 0, 1, 2, 10_000]
    for session, micro in zip(sessions, offsets, strict=True):
        SessionLog.objects.filter(pk=session.pk).update(
            performed_at=moment + dt.timedelta(microseconds=micro)
        )
    expected = list(
        SessionLog.objects.filter(patient=patient)
        .order_by("-performed_at", "-id")
        .values_list("pk", flat=True)
    )

    rows, pages = all_pages(
        auth_client(therapist_user), patient_url(patient, "sessions/"), {"page_size": 2}
    )

    assert [row["id"] for row in rows] == expected
    assert pages == 3
