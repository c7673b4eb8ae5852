import datetime as dt

import pytest

from programs import services as program_services
from programs.models import Exercise, PrescribedExercise, Prescription, PrescriptionPeriod, Protocol
from tests import factories

POSTERIOR_THR = "total-hip-replacement-posterior"


def programs_url(patient, suffix=""):
    return f"/api/v1/patients/{patient.pk}/prescriptions/{suffix}"


@pytest.fixture
def staff(auth_client, therapist_user):
    return auth_client(therapist_user)


@pytest.fixture
def hinge():
    """A library exercise that breaks the posterior-hip precaution `hip-flexion-over-90`."""
    return Exercise.objects.get(slug="hip-hinge")


def assign(staff, patient, **body):
    return staff.post(programs_url(patient), body, format="json")


# --- assigning ----------------------------------------------------------------------------------


def test_assigning_a_protocol_by_slug_copies_its_first_phase(staff, patient, therapist):
    response = assign(staff, patient, protocol=POSTERIOR_THR)

    assert response.status_code == 201, response.data
    protocol = Protocol.objects.get(slug=POSTERIOR_THR)
    first_phase = protocol.phases.order_by("order").first()
    assert response.data["protocol"]["slug"] == POSTERIOR_THR
    assert response.data["current_phase"]["id"] == first_phase.pk
    assert response.data["prescriber"]["id"] == therapist.pk
    assert response.data["sessions_per_week"] == first_phase.sessions_per_week
    assert [e["exercise"]["id"] for e in response.data["exercises"]] == list(
        first_phase.exercises.order_by("order", "id").values_list("exercise_id", flat=True)
    )


def test_assigning_a_protocol_by_id_from_a_later_phase(staff, patient):
    protocol = Protocol.objects.get(slug=POSTERIOR_THR)
    second = protocol.phases.order_by("order")[1]
    start = patient.local_date() - dt.timedelta(days=3)

    response = assign(
        staff,
        patient,
        protocol=protocol.pk,
        phase=second.pk,
        start_date=start.isoformat(),
        sessions_per_week=4,
    )

    assert response.status_code == 201, response.data
    assert response.data["current_phase"]["order"] == second.order
    assert response.data["start_date"] == start.isoformat()
    assert response.data["sessions_per_week"] == 4


def test_a_custom_program_takes_slugs_or_ids_and_library_defaults(staff, patient):
    bridges = Exercise.objects.get(slug="bridges")
    clams = Exercise.objects.get(slug="clamshells")

    response = assign(
        staff,
        patient,
        name="Glute focus",
        exercises=[
            {"exercise": "bridges", "sets": 3, "reps": 12, "hold_seconds": 3},
            {"exercise": clams.pk},
        ],
    )

    assert response.status_code == 201, response.data
    entries = response.data["exercises"]
    assert response.data["protocol"] is None
    assert response.data["name"] == "Glute focus"
    assert [(e["exercise"]["id"], e["sets"], e["reps"]) for e in entries] == [
        (bridges.pk, 3, 12),
        (clams.pk, clams.default_sets, clams.default_reps),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "protocol"),
        ({"protocol": "no-such-protocol"}, "protocol"),
        ({"exercises": [{"exercise": "no-such-exercise"}]}, "exercises.0.exercise"),
        ({"exercises": [{"exercise": "bridges\u0000"}]}, "exercises.0.exercise"),
        ({"exercises": [{"exercise": True}]}, "exercises.0.exercise"),
        ({"exercises": [{"exercise": "bridges", "sets": 0}]}, "exercises.0.sets"),
        ({"protocol": POSTERIOR_THR, "sessions_per_week": 15}, "sessions_per_week"),
        ({"protocol": POSTERIOR_THR, "start_date": "1999-01-01"}, "start_date"),
        ({"exercises": [{"exercise": "bridges"}, {"exercise": "bridges"}]}, "exercises"),
    ],
)
def test_bad_assignments_are_400_with_the_field_named(staff, patient, body, field):
    response = assign(staff, patient, **body)

    assert response.status_code == 400
    assert field in response.data["errors"], response.data
    assert not Prescription.objects.filter(patient=patient).exists()


def test_a_precaution_conflict_is_400_with_the_reason(staff, patient, hinge):
    response = assign(staff, patient, exercises=[{"exercise": hinge.slug}])

    assert response.status_code == 400
    [message] = response.data["errors"]["exercises"]
    assert "hip-hinge" in message
    assert "hip-flexion-over-90" in message
    assert not Prescription.objects.filter(patient=patient).exists()


def test_the_override_assigns_and_records_the_conflict_and_its_reason(staff, patient, hinge):
    response = assign(
        staff,
        patient,
        exercises=[{"exercise": hinge.slug}, {"exercise": "bridges"}],
        allow_precaution_override=True,
        override_reason="Surgeon cleared flexion past 90°",
    )

    assert response.status_code == 201, response.data
    by_slug = {e["exercise"]["slug"]: e for e in response.data["exercises"]}
    assert by_slug["hip-hinge"]["precaution_override"] is True
    assert by_slug["hip-hinge"]["override_reason"] == "Surgeon cleared flexion past 90°"
    assert by_slug["bridges"]["precaution_override"] is False
    entry = PrescribedExercise.objects.get(exercise=hinge, prescription__patient=patient)
    assert entry.precaution_override is True


def test_the_override_needs_a_reason(staff, patient, hinge):
    response = assign(
        staff, patient, exercises=[{"exercise": hinge.slug}], allow_precaution_override=True
    )

    assert response.status_code == 400
    assert "override_reason" in response.data["errors"]


def test_a_discharged_patient_cannot_be_given_a_program(staff, patient):
    program_services.patient_discharge(patient=patient)

    response = assign(staff, patient, protocol=POSTERIOR_THR)

    assert response.status_code == 400
    assert "patient" in response.data["errors"]


# --- reading ------------------------------------------------------------------------------------


def test_list_and_detail_show_only_this_patients_programs(
    staff, patient, prescription, other_prescription, other_patient
):
    listed = staff.get(programs_url(patient))
    detail = staff.get(programs_url(patient, f"{prescription.pk}/"))
    someone_elses = staff.get(programs_url(patient, f"{other_prescription.pk}/"))

    assert [p["id"] for p in listed.data["results"]] == [prescription.pk]
    assert detail.status_code == 200
    assert len(detail.data["exercises"]) == 3
    # Another patient's program under this patient's URL does not exist here.
    assert someone_elses.status_code == 404


# --- phases, pause, resume, complete ----------------------------------------------------------


@pytest.fixture
def protocol_program(patient, therapist):
    return program_services.program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=Protocol.objects.get(slug=POSTERIOR_THR),
        start_date=patient.local_date() - dt.timedelta(days=30),
    )


def test_advance_moves_to_the_next_phase_and_swaps_the_exercises(staff, patient, protocol_program):
    second = protocol_program.protocol.phases.order_by("order")[1]

    response = staff.post(programs_url(patient, f"{protocol_program.pk}/advance/"), format="json")

    assert response.status_code == 200, response.data
    assert response.data["current_phase"]["id"] == second.pk
    assert {e["exercise"]["id"] for e in response.data["exercises"]} == set(
        second.exercises.values_list("exercise_id", flat=True)
    )


def test_advance_to_a_phase_of_another_protocol_is_400(staff, patient, protocol_program):
    foreign = Protocol.objects.exclude(pk=protocol_program.protocol_id).first().phases.first()

    response = staff.post(
        programs_url(patient, f"{protocol_program.pk}/advance/"),
        {"to_phase": foreign.pk},
        format="json",
    )

    assert response.status_code == 400
    assert "phase" in response.data["errors"]


def test_advancing_a_custom_program_is_400(staff, patient, prescription):
    response = staff.post(programs_url(patient, f"{prescription.pk}/advance/"))

    assert response.status_code == 400


def test_pause_resume_complete(staff, patient, protocol_program):
    url = programs_url(patient, f"{protocol_program.pk}/")
    today = patient.local_date()

    paused = staff.post(f"{url}pause/", {"on_date": (today - dt.timedelta(days=2)).isoformat()})
    paused_twice = staff.post(f"{url}pause/")
    resumed = staff.post(f"{url}resume/", format="json")
    completed = staff.post(f"{url}complete/", format="json")
    completed_twice = staff.post(f"{url}complete/", format="json")

    assert paused.status_code == 200, paused.data
    assert paused.data["status"] == "paused"
    assert paused.data["paused_on"] == (today - dt.timedelta(days=2)).isoformat()
    assert paused_twice.status_code == 400
    assert resumed.data["status"] == "active"
    assert completed.data["status"] == "completed"
    assert completed.data["completed_on"] == today.isoformat()
    assert completed_twice.status_code == 400


def test_a_program_starting_next_week_can_be_completed_today(staff, patient):
    start = patient.local_date() + dt.timedelta(days=7)
    created = assign(staff, patient, protocol=POSTERIOR_THR, start_date=start.isoformat())
    assert created.status_code == 201, created.data

    response = staff.post(programs_url(patient, f"{created.data['id']}/complete/"))

    assert response.status_code == 200, response.data
    assert response.data["status"] == "completed"
    period = PrescriptionPeriod.objects.get(prescription_id=created.data["id"])
    assert period.ended_on == start  # closed empty, never before it started


def test_a_program_cannot_pause_before_it_starts(staff, patient):
    start = patient.local_date() + dt.timedelta(days=7)
    created = assign(staff, patient, protocol=POSTERIOR_THR, start_date=start.isoformat())

    response = staff.post(programs_url(patient, f"{created.data['id']}/pause/"))

    assert response.status_code == 400
    assert "on_date" in response.data["errors"]


def test_dates_further_than_a_year_away_are_400(staff, patient, protocol_program):
    response = staff.post(
        programs_url(patient, f"{protocol_program.pk}/pause/"),
        {"on_date": "9999-12-31"},
        format="json",
    )

    assert response.status_code == 400
    assert "on_date" in response.data["errors"]


# --- exercises in a program ---------------------------------------------------------------------


def test_add_an_exercise_then_change_its_dosage_then_remove_it(staff, patient, prescription):
    url = programs_url(patient, f"{prescription.pk}/exercises/")

    added = staff.post(url, {"exercise": "calf-raises", "sets": 2, "reps": 15}, format="json")
    entry_url = f"{url}{added.data['id']}/"
    changed = staff.patch(entry_url, {"reps": 20, "notes": "Slow on the way down"}, format="json")
    removed = staff.delete(entry_url)
    removed_twice = staff.delete(entry_url)
    duplicate = staff.post(url, {"exercise": "calf-raises"}, format="json")

    assert added.status_code == 201, added.data
    assert added.data["exercise"]["slug"] == "calf-raises"
    assert changed.status_code == 200, changed.data
    assert (changed.data["sets"], changed.data["reps"]) == (2, 20)
    assert changed.data["notes"] == "Slow on the way down"
    assert removed.status_code == 204
    assert removed_twice.status_code == 400
    assert duplicate.status_code == 201  # removed ones may come back
    program = staff.get(programs_url(patient, f"{prescription.pk}/")).data
    assert [e["exercise"]["slug"] for e in program["exercises"]].count("calf-raises") == 1


def test_adding_a_conflicting_exercise_needs_the_override(staff, patient, prescription, hinge):
    url = programs_url(patient, f"{prescription.pk}/exercises/")

    refused = staff.post(url, {"exercise": hinge.slug}, format="json")
    overridden = staff.post(
        url,
        {"exercise": hinge.pk, "allow_precaution_override": True, "override_reason": "Cleared"},
        format="json",
    )

    assert refused.status_code == 400
    assert "hip-flexion-over-90" in refused.data["errors"]["exercises"][0]
    assert overridden.status_code == 201, overridden.data
    assert overridden.data["precaution_override"] is True
    assert overridden.data["override_reason"] == "Cleared"


def test_an_empty_dosage_change_is_400(staff, patient, prescription):
    entry = prescription.exercises.first()

    response = staff.patch(
        programs_url(patient, f"{prescription.pk}/exercises/{entry.pk}/"), {}, format="json"
    )

    assert response.status_code == 400


def test_an_entry_of_another_program_is_404(staff, patient, prescription, other_prescription):
    foreign_entry = other_prescription.exercises.first()

    response = staff.patch(
        programs_url(patient, f"{prescription.pk}/exercises/{foreign_entry.pk}/"),
        {"reps": 5},
        format="json",
    )

    assert response.status_code == 404


def test_another_clinics_therapist_gets_404_for_every_program_route(
    auth_client, other_clinic_therapist_user, patient, prescription
):
    client = auth_client(other_clinic_therapist_user)
    entry = prescription.exercises.first()
    base = programs_url(patient, f"{prescription.pk}/")

    assert client.get(programs_url(patient)).status_code == 404
    assert assign(client, patient, protocol=POSTERIOR_THR).status_code == 404
    for action in ("advance/", "pause/", "resume/", "complete/"):
        assert client.post(f"{base}{action}").status_code == 404, action
    assert client.patch(f"{base}exercises/{entry.pk}/", {"reps": 5}).status_code == 404
    assert client.delete(f"{base}exercises/{entry.pk}/").status_code == 404
    assert Prescription.objects.get(pk=prescription.pk).status == "active"


def test_a_colleague_and_the_clinic_admin_may_change_the_program(
    auth_client, clinic_admin_user, clinic, patient, prescription
):
    colleague = factories.PractitionerFactory(clinic=clinic)
    base = programs_url(patient, f"{prescription.pk}/")

    paused = auth_client(colleague.user).post(f"{base}pause/")
    resumed = auth_client(clinic_admin_user).post(f"{base}resume/")

    assert paused.status_code == 200
    assert resumed.status_code == 200
