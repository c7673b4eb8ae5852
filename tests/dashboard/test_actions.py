import csv
import datetime as dt
import io
from html import unescape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from patients.models import Patient
from patients.services import patient_claim
from programs.models import Alert, Exercise, Prescription, SessionLog
from programs.services import ExerciseChoice, program_assign
from tests import factories

from .conftest import add_sessions

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    return unescape(response.content.decode())


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def program_url(name: str, prescription: Prescription, **kwargs) -> str:
    return reverse(
        f"dashboard:{name}",
        kwargs={
            "patient_id": prescription.patient_id,
            "prescription_id": prescription.pk,
            **kwargs,
        },
    )


# --- alerts ---------------------------------------------------------------------------------


def test_acknowledge_an_alert_with_a_note(staff_client, therapist, patient):
    alert = Alert.objects.create(
        clinic=patient.clinic, patient=patient, kind="red_flag", severity="urgent", message="x"
    )
    url = reverse("dashboard:acknowledge", args=[patient.pk, alert.pk])
    response = staff_client.post(url, {"note": "Called, sent to the GP"})
    assert response.status_code == 302
    assert response["Location"].endswith("#alerts")
    alert.refresh_from_db()
    assert alert.acknowledged_by == therapist.user
    assert alert.acknowledgement_note == "Called, sent to the GP"
    assert "Red flag alert acknowledged." in messages_of(response)

    again = staff_client.post(url, {"note": "twice"})
    assert again.status_code == 302
    assert "This alert was already acknowledged." in messages_of(again)


# --- phases and program status ------------------------------------------------------------------


def test_advance_phase(staff_client, thr_prescription):
    response = staff_client.post(program_url("advance", thr_prescription), {})
    assert response.status_code == 302
    thr_prescription.refresh_from_db()
    assert thr_prescription.current_phase.order == 2
    assert "Moved to phase “Moderate protection”." in messages_of(response)


def test_advance_from_the_last_phase_is_a_form_error(staff_client, thr_prescription):
    staff_client.post(program_url("advance", thr_prescription), {})
    staff_client.post(program_url("advance", thr_prescription), {})
    response = staff_client.post(program_url("advance", thr_prescription), {})
    assert response.status_code == 200
    assert "already in its last phase" in text_of(response)


def test_advance_to_a_phase_with_conflicts_needs_an_override(
    staff_client, patient, thr_prescription
):
    phase_two = thr_prescription.protocol.phases.get(order=2)
    patient.precaution_tags = [*patient.precaution_tags, "full-weight-bearing"]
    patient.save(update_fields=["precaution_tags"])  # step-ups in phase 2 now conflict
    url = program_url("advance", thr_prescription)

    refused = staff_client.post(url, {"to_phase": phase_two.pk})
    assert refused.status_code == 200
    assert "Step-ups conflicts with the patient's precautions" in text_of(refused)
    thr_prescription.refresh_from_db()
    assert thr_prescription.current_phase.order == 1

    no_reason = staff_client.post(
        url, {"to_phase": phase_two.pk, "allow_precaution_override": "on"}
    )
    assert "Give the reason for overriding" in text_of(no_reason)

    staff_client.post(
        url,
        {"to_phase": phase_two.pk, "allow_precaution_override": "on", "override_reason": "PT ok"},
    )
    thr_prescription.refresh_from_db()
    assert thr_prescription.current_phase == phase_two
    step_ups = thr_prescription.exercises.get(active=True, exercise__slug="step-ups")
    assert step_ups.precaution_override
    assert step_ups.override_reason == "PT ok"


def test_pause_resume_complete(staff_client, thr_prescription):
    staff_client.post(program_url("pause", thr_prescription))
    thr_prescription.refresh_from_db()
    assert thr_prescription.status == Prescription.Status.PAUSED
    refused = staff_client.post(program_url("pause", thr_prescription))
    assert "Only an active program can be paused." in messages_of(refused)
    staff_client.post(program_url("resume", thr_prescription))
    thr_prescription.refresh_from_db()
    assert thr_prescription.status == Prescription.Status.ACTIVE
    staff_client.post(program_url("complete", thr_prescription))
    thr_prescription.refresh_from_db()
    assert thr_prescription.status == Prescription.Status.COMPLETED


# --- exercises --------------------------------------------------------------------------------


def test_change_dosage(staff_client, thr_prescription):
    item = thr_prescription.exercises.filter(active=True).first()
    prefix = f"dosage-{item.pk}"
    url = program_url("dosage", thr_prescription, item_id=item.pk)
    response = staff_client.post(
        url,
        {
            f"{prefix}-sets": 3,
            f"{prefix}-reps": 12,
            f"{prefix}-hold_seconds": 5,
            f"{prefix}-notes": "Slowly",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.sets, item.reps, item.hold_seconds, item.notes) == (3, 12, 5, "Slowly")

    invalid = staff_client.post(
        url, {f"{prefix}-sets": 0, f"{prefix}-reps": 12, f"{prefix}-hold_seconds": 5}
    )
    assert invalid.status_code == 200
    assert "greater than or equal to 1" in text_of(invalid)
    item.refresh_from_db()
    assert item.sets == 3


def test_add_an_exercise_warns_on_a_precaution_conflict(staff_client, patient, thr_prescription):
    knee_hug = Exercise.objects.get(slug="knee-to-chest-stretch")  # hip flexion past 90°
    url = program_url("add_exercise", thr_prescription)

    refused = staff_client.post(url, {"exercise": knee_hug.pk})
    assert refused.status_code == 200
    content = text_of(refused)
    assert "conflicts with the patient's precautions: No hip flexion past 90°" in content
    assert not thr_prescription.exercises.filter(exercise=knee_hug).exists()
    # The choice list flags conflicting exercises up front.
    assert "⚠ Knee-to-chest stretch — conflicts: No hip flexion past 90°" in content

    staff_client.post(
        url,
        {
            "exercise": knee_hug.pk,
            "allow_precaution_override": "on",
            "override_reason": "Surgeon cleared flexion",
        },
    )
    entry = thr_prescription.exercises.get(exercise=knee_hug, active=True)
    assert entry.precaution_override
    assert entry.override_reason == "Surgeon cleared flexion"
    assert (entry.sets, entry.reps) == (knee_hug.default_sets, knee_hug.default_reps)


def test_add_a_safe_exercise_with_a_dosage(staff_client, thr_prescription):
    bridges = Exercise.objects.get(slug="bridges")
    response = staff_client.post(
        program_url("add_exercise", thr_prescription),
        {"exercise": bridges.pk, "sets": 2, "reps": 8},
    )
    assert response.status_code == 302
    entry = thr_prescription.exercises.get(exercise=bridges, active=True)
    assert (entry.sets, entry.reps, entry.precaution_override) == (2, 8, False)
    again = staff_client.post(
        program_url("add_exercise", thr_prescription), {"exercise": bridges.pk}
    )
    assert "already in the program" in text_of(again)


def test_remove_an_exercise(staff_client, thr_prescription):
    item = thr_prescription.exercises.filter(active=True).first()
    staff_client.post(program_url("remove", thr_prescription, item_id=item.pk))
    item.refresh_from_db()
    assert not item.active
    twice = staff_client.post(program_url("remove", thr_prescription, item_id=item.pk))
    assert "This exercise was already removed." in messages_of(twice)


# --- the patient record -----------------------------------------------------------------------


def test_update_reminder_preferences(staff_client, patient):
    url = reverse("dashboard:reminders", args=[patient.pk])
    response = staff_client.post(
        url,
        {
            "reminders_enabled": "on",
            "reminder_time": "07:30",
            "weekdays": ["0", "2", "4"],
            "reminder_channel": "sms",
            "timezone": "Europe/London",
        },
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.reminder_weekdays == 0b10101
    assert (patient.reminder_channel, patient.timezone) == ("sms", "Europe/London")

    half_quiet = staff_client.post(
        url,
        {
            "reminder_time": "07:30",
            "reminder_channel": "sms",
            "timezone": "Europe/London",
            "quiet_hours_start": "22:00",
        },
    )
    assert half_quiet.status_code == 200
    assert "Give both the start and the end of quiet hours" in text_of(half_quiet)
    patient.refresh_from_db()
    assert patient.reminders_enabled  # unchanged


def test_new_invite_code(staff_client, patient):
    old = patient.invite_code
    response = staff_client.post(reverse("dashboard:invite", args=[patient.pk]))
    patient.refresh_from_db()
    assert patient.invite_code != old
    assert any(patient.invite_code in message for message in messages_of(response))
    patient_claim(invite_code=patient.invite_code, username="al", password=factories.PASSWORD)
    claimed = staff_client.post(reverse("dashboard:invite", args=[patient.pk]))
    assert "This patient has already claimed an account." in messages_of(claimed)


def test_discharge(staff_client, patient, thr_prescription):
    staff_client.post(reverse("dashboard:discharge", args=[patient.pk]))
    patient.refresh_from_db()
    thr_prescription.refresh_from_db()
    assert patient.status == Patient.Status.DISCHARGED
    assert thr_prescription.status == Prescription.Status.COMPLETED


def test_create_and_edit_a_patient(staff_client, clinic, therapist):
    response = staff_client.post(
        reverse("dashboard:patient_new"),
        {
            "first_name": "Ida",
            "last_name": "Lund",
            "condition": "total_hip_replacement",
            "side": "right",
            "surgical_approach": "posterior",
            "therapist": therapist.pk,
            "timezone": "America/Chicago",
            "surgery_date": "2025-01-10",
        },
    )
    patient = Patient.objects.get(first_name="Ida")
    assert response["Location"] == reverse("dashboard:assign", args=[patient.pk])
    assert patient.clinic == clinic
    assert "hip-flexion-over-90" in patient.precaution_tags  # posterior defaults
    assert any(patient.invite_code in message for message in messages_of(response))

    edit = reverse("dashboard:patient_edit", args=[patient.pk])
    form = staff_client.get(edit).context["form"]
    data = {name: form[name].value() for name in form.fields}
    data = {k: v for k, v in data.items() if v not in (None, "")}
    data["precaution_tags"] = ["hip-flexion-over-90"]
    data["phone"] = "555-0100"
    staff_client.post(edit, data)
    patient.refresh_from_db()
    assert patient.phone == "555-0100"
    assert patient.precaution_tags == ["hip-flexion-over-90"]

    invalid = staff_client.post(reverse("dashboard:patient_new"), {"first_name": "X"})
    assert invalid.status_code == 200
    assert "This field is required." in text_of(invalid)


# --- program builder ------------------------------------------------------------------------


def test_assign_a_protocol_from_a_chosen_phase(staff_client, patient, thr_protocol):
    phase_two = thr_protocol.phases.get(order=2)
    url = reverse("dashboard:assign", args=[patient.pk])
    preview = staff_client.post(
        url,
        {
            "mode": "protocol",
            "protocol": thr_protocol.pk,
            "phase": phase_two.pk,
            "preview": "1",
            "start_date": "2025-01-06",
        },
    )
    assert preview.status_code == 200
    assert preview.context["preview"].phase == phase_two
    assert not Prescription.objects.filter(patient=patient).exists()

    response = staff_client.post(
        url,
        {
            "mode": "protocol",
            "protocol": thr_protocol.pk,
            "phase": phase_two.pk,
            "start_date": "2025-01-06",
            "sessions_per_week": 4,
        },
    )
    assert response.status_code == 302
    prescription = Prescription.objects.get(patient=patient)
    assert (prescription.current_phase, prescription.sessions_per_week) == (phase_two, 4)

    again = staff_client.post(
        url, {"mode": "protocol", "protocol": thr_protocol.pk, "start_date": "2025-01-06"}
    )
    assert again.status_code == 200
    assert "already has an open program on this protocol" in text_of(again)


def test_build_a_custom_program_with_precaution_warnings(staff_client, patient):
    bridges = Exercise.objects.get(slug="bridges")
    knee_hug = Exercise.objects.get(slug="knee-to-chest-stretch")
    url = reverse("dashboard:assign", args=[patient.pk])
    assert "⚠ No hip flexion past 90°" in text_of(staff_client.get(url))
    data = {
        "mode": "custom",
        "name": "Home basics",
        "start_date": "2025-02-03",
        "sessions_per_week": 3,
        f"ex-{bridges.pk}-include": "on",
        f"ex-{bridges.pk}-sets": 2,
        f"ex-{bridges.pk}-reps": 10,
        f"ex-{bridges.pk}-hold_seconds": 0,
        f"ex-{knee_hug.pk}-include": "on",
        f"ex-{knee_hug.pk}-sets": 1,
        f"ex-{knee_hug.pk}-reps": 5,
        f"ex-{knee_hug.pk}-hold_seconds": 20,
    }
    refused = staff_client.post(url, data)
    assert refused.status_code == 200
    assert "Knee-to-chest stretch conflicts" in text_of(refused)
    assert not Prescription.objects.filter(patient=patient).exists()

    nothing = staff_client.post(
        url, {"mode": "custom", "name": "x", "start_date": "2025-02-03", "sessions_per_week": 3}
    )
    assert "Tick at least one exercise" in text_of(nothing)

    staff_client.post(url, {**data, "allow_precaution_override": "on", "override_reason": "ok'd"})
    prescription = Prescription.objects.get(patient=patient)
    assert prescription.name == "Home basics"
    assert prescription.protocol is None
    assert set(prescription.exercises.values_list("exercise__slug", "precaution_override")) == {
        ("bridges", False),
        ("knee-to-chest-stretch", True),
    }


# --- CSV export -------------------------------------------------------------------------------


def test_csv_export_has_a_header_one_row_per_entry_and_escapes(staff_client, patient, therapist):
    exercises = factories.ExerciseFactory.create_batch(2)
    prescription = program_assign(
        patient=patient,
        prescriber=therapist,
        exercises=[ExerciseChoice(exercise=e, sets=2, reps=10) for e in exercises],
        name='=HYPERLINK("http://evil")',
        start_date=patient.local_date() - dt.timedelta(days=10),
    )
    tricky = 'Sore, "sharp"\nthen fine'
    (with_entries,) = add_sessions(prescription, 1, notes=tricky)
    SessionLog.objects.create(
        prescription=prescription,
        patient=patient,
        client_id="00000000-0000-0000-0000-000000000001",
        performed_at=with_entries.performed_at.replace(hour=20),
        local_date=with_entries.local_date,
        notes="@SUM(A1)",
    )

    response = staff_client.get(reverse("dashboard:export", args=[patient.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="stride-sessions-')
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    header, *data = rows
    assert header[:3] == ["session_id", "performed_at", "local_date"]
    assert "exercise" in header
    assert "skipped_reason" in header
    assert len(data) == 3  # two entries of the first session, one row for the empty one
    column = dict(zip(header, data[0], strict=True))
    assert column["session_notes"] == tricky  # commas, quotes and newlines survive
    assert column["program"] == '\'=HYPERLINK("http://evil")'  # formula neutralised
    assert column["exercise"] == exercises[0].name
    assert column["performed_at"].endswith("-05:00") or column["performed_at"].endswith("-04:00")
    empty = dict(zip(header, data[2], strict=True))
    assert empty["session_notes"] == "'@SUM(A1)"
    assert empty["exercise"] == ""


def test_the_time_zone_select_marks_the_patients_zone(staff_client, patient):
    from django.urls import reverse

    page = staff_client.get(reverse("dashboard:patient", kwargs={"patient_id": patient.pk}))
    html = page.content.decode()
    assert f'<option value="{patient.timezone}" selected>' in html
    assert html.count(" selected>") >= 1
    assert '<option value="Europe/London">' in html
