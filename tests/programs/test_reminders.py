import datetime as dt
import json
import uuid
from io import StringIO
from types import SimpleNamespace

import pytest
from celery.exceptions import Retry
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from patients import services as patient_services
from programs import digest, reminders, services
from programs.alerts import alert_open
from programs.delivery import DeliveryError
from programs.models import Alert, Reminder
from programs.reminders import SkipReason, dispatch_due_reminders, reminder_send, sending
from programs.tasks import send_reminder_task, send_therapist_digests_task
from tests import factories

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)
NEW_YORK = "America/New_York"


def utc(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=dt.UTC)


@pytest.fixture
def make_patient(clinic, therapist, exercises):
    def make(
        *,
        tz: str = NEW_YORK,
        at: dt.time = dt.time(18, 0),
        program: bool = True,
        sessions_per_week: int = 5,
        **preferences,
    ):
        patient = factories.create_patient(
            clinic=clinic, therapist=therapist, timezone_name=tz, reminder_time=at
        )
        if preferences:
            patient_services.patient_update_reminders(patient=patient, **preferences)
        if program:
            factories.assign_custom_program(
                patient=patient,
                prescriber=therapist,
                exercises=exercises,
                start_date=START,
                sessions_per_week=sessions_per_week,
            )
        return patient

    return make


def rows(**filters) -> dict[int, Reminder]:
    return {r.patient_id: r for r in Reminder.objects.filter(**filters)}


def log_session(patient, performed_at: dt.datetime):
    return services.session_record(
        patient=patient, client_id=uuid.uuid4(), performed_at=performed_at, pain_after=2
    )


def deliver_all(now: dt.datetime) -> None:
    """What the workers would do: send every pending row (the unit tests' stand-in)."""
    for pk in Reminder.objects.filter(status="pending").values_list("pk", flat=True):
        reminder_send(reminder_id=pk, now=now)


# --- due time, time zones, daylight saving --------------------------------------------------


def test_a_reminder_is_due_once_the_local_time_has_passed_in_each_time_zone(make_patient):
    tokyo = make_patient(tz="Asia/Tokyo")
    berlin = make_patient(tz="Europe/Berlin")
    new_york = make_patient(tz=NEW_YORK)

    result = dispatch_due_reminders(now=utc(2026, 6, 10, 10, 0))  # Tokyo 19:00, Berlin 12:00

    created = rows()
    assert set(created) == {tokyo.pk}
    assert created[tokyo.pk].local_date == dt.date(2026, 6, 10)
    assert created[tokyo.pk].status == "pending"
    assert result.created["session"] == 1

    dispatch_due_reminders(now=utc(2026, 6, 10, 16, 0))  # Berlin 18:00, New York 12:00
    assert set(rows()) == {tokyo.pk, berlin.pk}
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 0))  # New York 18:00
    assert set(rows()) == {tokyo.pk, berlin.pk, new_york.pk}
    assert Reminder.objects.count() == 3


def test_the_row_carries_the_patients_local_date_not_the_utc_date(make_patient):
    tokyo = make_patient(tz="Asia/Tokyo", at=dt.time(8, 0))
    new_york = make_patient(tz=NEW_YORK, at=dt.time(18, 0))

    dispatch_due_reminders(now=utc(2026, 6, 10, 23, 30))  # Tokyo 11 Jun 08:30, NY 10 Jun 19:30

    created = rows()
    assert created[tokyo.pk].local_date == dt.date(2026, 6, 11)
    assert created[new_york.pk].local_date == dt.date(2026, 6, 10)


def test_spring_forward_moves_the_utc_send_time_an_hour_earlier(make_patient):
    patient = make_patient(tz=NEW_YORK, at=dt.time(18, 0))

    dispatch_due_reminders(now=utc(2026, 3, 7, 22, 30))  # 17:30 EST: not yet
    assert not rows()
    dispatch_due_reminders(now=utc(2026, 3, 7, 23, 0))  # 18:00 EST
    assert rows(local_date=dt.date(2026, 3, 7)).keys() == {patient.pk}

    dispatch_due_reminders(now=utc(2026, 3, 8, 21, 59))  # 17:59 EDT: not yet
    assert not rows(local_date=dt.date(2026, 3, 8))
    dispatch_due_reminders(now=utc(2026, 3, 8, 22, 0))  # 18:00 EDT, an hour earlier in UTC
    assert rows(local_date=dt.date(2026, 3, 8)).keys() == {patient.pk}


def test_a_reminder_time_skipped_by_spring_forward_goes_out_when_the_clock_passes_it(
    make_patient,
):
    patient = make_patient(tz=NEW_YORK, at=dt.time(2, 30))  # 02:30 does not exist on 8 March

    dispatch_due_reminders(now=utc(2026, 3, 8, 6, 59))  # 01:59 EST
    assert not rows()
    dispatch_due_reminders(now=utc(2026, 3, 8, 7, 0))  # 03:00 EDT
    assert rows(local_date=dt.date(2026, 3, 8)).keys() == {patient.pk}


def test_fall_back_sends_at_local_time_and_the_repeated_hour_sends_nothing_twice(make_patient):
    evening = make_patient(tz=NEW_YORK, at=dt.time(18, 0))
    night = make_patient(tz=NEW_YORK, at=dt.time(1, 30))  # 01:30 happens twice on 1 Nov

    dispatch_due_reminders(now=utc(2026, 11, 1, 5, 30))  # 01:30 EDT, the first one
    assert rows().keys() == {night.pk}
    dispatch_due_reminders(now=utc(2026, 11, 1, 6, 30))  # 01:30 EST, the second one
    assert Reminder.objects.filter(patient=night).count() == 1

    dispatch_due_reminders(now=utc(2026, 11, 1, 22, 30))  # 17:30 EST: not yet
    assert evening.pk not in rows()
    dispatch_due_reminders(now=utc(2026, 11, 1, 23, 0))  # 18:00 EST, an hour later in UTC
    assert rows(local_date=dt.date(2026, 11, 1)).keys() == {evening.pk, night.pk}


def test_the_weekday_mask_is_read_on_the_patients_local_weekday(make_patient):
    # 15 June 2026 is a Monday. In Tokyo it is already Monday at 14 June 23:00 UTC (a Sunday).
    mondays = make_patient(tz="Asia/Tokyo", at=dt.time(7, 0), reminder_weekdays=0b0000001)
    sundays = make_patient(tz="Asia/Tokyo", at=dt.time(7, 0), reminder_weekdays=0b1000000)

    dispatch_due_reminders(now=utc(2026, 6, 14, 23, 0))  # Tokyo: Monday 15 June, 08:00

    assert rows().keys() == {mondays.pk}
    assert rows()[mondays.pk].local_date == dt.date(2026, 6, 15)
    dispatch_due_reminders(now=utc(2026, 6, 20, 23, 0))  # Tokyo: Sunday 21 June, 08:00
    assert rows(local_date=dt.date(2026, 6, 21)).keys() == {sundays.pk}


def test_no_reminder_when_no_weekday_is_chosen(make_patient):
    make_patient(reminder_weekdays=0)
    dispatch_due_reminders(now=utc(2026, 6, 10, 23, 0))
    assert not rows()


def test_a_time_after_the_days_last_dispatch_is_sent_by_that_last_dispatch(make_patient):
    patient = make_patient(tz=NEW_YORK, at=dt.time(23, 58))
    dispatch_due_reminders(now=utc(2026, 6, 11, 3, 50))  # 23:50: the next run is 23:55
    assert not rows()
    dispatch_due_reminders(now=utc(2026, 6, 11, 3, 55))  # 23:55: the next run is tomorrow
    assert rows(local_date=dt.date(2026, 6, 10)).keys() == {patient.pk}


# --- skip rules ----------------------------------------------------------------------------


def test_a_patient_who_already_logged_today_gets_no_reminder(make_patient):
    logged = make_patient()
    other = make_patient()
    log_session(logged, utc(2026, 6, 10, 12, 0))  # 08:00 in New York

    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))

    assert rows().keys() == {other.pk}


def test_a_session_logged_yesterday_does_not_count_for_today(make_patient):
    patient = make_patient()
    log_session(patient, utc(2026, 6, 9, 22, 0))  # 18:00 on 9 June in New York
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    assert rows().keys() == {patient.pk}


@pytest.mark.parametrize(
    ("start", "end", "reminder_at", "expected"),
    [
        (dt.time(22, 0), dt.time(7, 0), dt.time(23, 0), "skipped"),  # across midnight, evening
        (dt.time(22, 0), dt.time(7, 0), dt.time(6, 30), "skipped"),  # across midnight, morning
        (dt.time(22, 0), dt.time(7, 0), dt.time(7, 0), "pending"),  # the end is not quiet
        (dt.time(12, 0), dt.time(14, 0), dt.time(13, 0), "skipped"),  # same-day range
        (dt.time(12, 0), dt.time(14, 0), dt.time(18, 0), "pending"),
    ],
)
def test_quiet_hours_skip_with_a_recorded_reason(make_patient, start, end, reminder_at, expected):
    patient = make_patient(at=reminder_at, quiet_hours_start=start, quiet_hours_end=end)
    local = dt.datetime.combine(dt.date(2026, 6, 10), reminder_at, tzinfo=patient.tzinfo)

    dispatch_due_reminders(now=local.astimezone(dt.UTC))

    reminder = rows()[patient.pk]
    assert reminder.status == expected
    assert reminder.skip_reason == ("quiet_hours" if expected == "skipped" else "")


@pytest.mark.parametrize(
    ("moment", "start", "end", "quiet"),
    [
        (dt.time(23, 0), dt.time(22, 0), dt.time(7, 0), True),
        (dt.time(0, 0), dt.time(22, 0), dt.time(7, 0), True),
        (dt.time(7, 0), dt.time(22, 0), dt.time(7, 0), False),
        (dt.time(21, 59), dt.time(22, 0), dt.time(7, 0), False),
        (dt.time(13, 0), dt.time(12, 0), dt.time(14, 0), True),
        (dt.time(14, 0), dt.time(12, 0), dt.time(14, 0), False),
        (dt.time(13, 0), None, None, False),
        (dt.time(13, 0), dt.time(9, 0), dt.time(9, 0), False),
    ],
)
def test_in_quiet_hours(moment, start, end, quiet):
    assert reminders.in_quiet_hours(moment, start, end) is quiet


def test_a_paused_program_is_skipped_with_a_reason_and_reminders_resume_after(
    make_patient, patient
):
    paused = make_patient()
    prescription = paused.prescriptions.get()
    services.program_pause(prescription=prescription, on_date=dt.date(2026, 6, 1))

    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[paused.pk]
    assert (reminder.status, reminder.skip_reason) == ("skipped", "paused")

    services.program_resume(prescription=prescription, on_date=dt.date(2026, 6, 11))
    dispatch_due_reminders(now=utc(2026, 6, 11, 22, 30))
    assert rows(local_date=dt.date(2026, 6, 11))[paused.pk].status == "pending"


def test_discharged_disabled_and_programless_patients_get_no_reminder(make_patient):
    discharged = make_patient()
    services.patient_discharge(patient=discharged)
    make_patient(reminders_enabled=False)
    completed = make_patient()
    services.program_complete(
        prescription=completed.prescriptions.get(), on_date=dt.date(2026, 5, 1)
    )
    make_patient(program=False)
    future = make_patient(program=False)
    factories.assign_custom_program(
        patient=future,
        prescriber=future.therapist,
        exercises=factories.ExerciseFactory.create_batch(1),
        start_date=dt.date(2026, 7, 1),
    )
    due = make_patient()

    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))

    assert rows().keys() == {due.pk}


def test_a_second_dispatch_the_same_day_creates_nothing(make_patient):
    make_patient()
    first = dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    second = dispatch_due_reminders(now=utc(2026, 6, 10, 22, 35))
    assert (first.created["session"], second.created["session"]) == (1, 0)
    assert Reminder.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.parametrize(("patients", "threshold", "analyzed"), [(3, 3, True), (2, 5, False)])
def test_a_big_dispatch_refreshes_the_planner_statistics(
    make_patient, monkeypatch, patients, threshold, analyzed
):
    # The next tick's candidate query was planned on stale statistics after 100k new rows
    # (~20 s instead of 0.3 s). ANALYZE sets pg_class.reltuples (in place: it outlives the
    # test's transaction, so each case compares with what it found).
    from programs.reminders import dispatch

    monkeypatch.setattr(dispatch, "ANALYZE_AFTER_ROWS", threshold)
    for _ in range(patients):
        make_patient()

    def estimated_rows() -> float:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples FROM pg_class WHERE relname = %s", [Reminder._meta.db_table]
            )
            return cursor.fetchone()[0]

    before = estimated_rows()
    result = dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))

    assert result.created["session"] == patients
    assert before != patients
    assert estimated_rows() == (patients if analyzed else before)


def test_rows_created_by_another_dispatcher_are_not_enqueued_again(make_patient):
    patient = make_patient()
    Reminder.objects.create(
        patient=patient,
        local_date=dt.date(2026, 6, 10),
        channel="email",
        dispatch_id=uuid.uuid4(),
    )
    result = dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    # The row existed, so the candidate query does not even select the patient; and a row
    # inserted by someone else between select and insert is not ours (checked via dispatch_id).
    assert (result.selected, result.enqueued) == (0, 0)


# --- fatigue ------------------------------------------------------------------------------


def test_fatigue_reduces_to_every_other_day_and_opens_one_inactive_alert(make_patient, clinic):
    clinic.reminder_fatigue_limit = 3
    clinic.save()
    patient = make_patient()
    statuses = []
    for day in range(1, 9):  # 1..8 June, reminders at 18:00 New York, never a session
        now = utc(2026, 6, day, 22, 30)
        dispatch_due_reminders(now=now)
        deliver_all(now)
        reminder = Reminder.objects.get(patient=patient, local_date=dt.date(2026, 6, day))
        statuses.append(reminder.skip_reason or reminder.status)

    assert statuses == ["sent", "sent", "sent", "fatigue", "sent", "fatigue", "sent", "fatigue"]
    alerts = Alert.objects.filter(patient=patient, kind="inactive")
    assert alerts.count() == 1
    alert = alerts.get()
    assert alert.severity == "warning"
    assert alert.details["reminders_without_session"] == 3
    assert alert.details["source"] == "reminder_fatigue"


def test_a_logged_session_ends_the_fatigue_streak(make_patient, clinic):
    clinic.reminder_fatigue_limit = 2
    clinic.save()
    patient = make_patient()
    for day in (1, 2):
        dispatch_due_reminders(now=utc(2026, 6, day, 22, 30))
        deliver_all(utc(2026, 6, day, 22, 30))
    dispatch_due_reminders(now=utc(2026, 6, 3, 22, 30))
    assert rows(local_date=dt.date(2026, 6, 3))[patient.pk].skip_reason == "fatigue"

    log_session(patient, utc(2026, 6, 4, 12, 0))  # on 4 June: no reminder that day
    for day in (5, 6):
        dispatch_due_reminders(now=utc(2026, 6, day, 22, 30))
        deliver_all(utc(2026, 6, day, 22, 30))
    assert [r.status for r in Reminder.objects.filter(patient=patient).order_by("local_date")] == [
        "sent",
        "sent",
        "skipped",
        "sent",
        "sent",
    ]


@pytest.mark.parametrize(
    ("ignored", "limit", "last_skip", "skip", "alert"),
    [
        (2, 3, False, False, False),
        (3, 3, False, True, True),
        (3, 3, True, False, False),
        (4, 3, False, True, False),
        (10, 0, False, False, False),  # limit 0: fatigue control off
    ],
)
def test_fatigue_decision(ignored, limit, last_skip, skip, alert):
    decision = reminders.fatigue_decision(
        ignored=ignored, limit=limit, last_was_fatigue_skip=last_skip
    )
    assert (decision.skip, decision.open_alert) == (skip, alert)


# --- missed-session nudge -------------------------------------------------------------------


def test_a_missed_session_gets_a_nudge_next_morning_when_the_clinic_wants_one(make_patient, clinic):
    clinic.missed_session_nudge = True
    clinic.save()
    missed = make_patient()
    logged = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    deliver_all(utc(2026, 6, 10, 22, 30))
    log_session(logged, utc(2026, 6, 10, 23, 30))  # after the reminder, 19:30 local

    dispatch_due_reminders(now=utc(2026, 6, 11, 12, 50))  # 08:50: too early
    assert not rows(kind="missed")
    dispatch_due_reminders(now=utc(2026, 6, 11, 13, 30))  # 09:30 on 11 June
    nudges = rows(kind="missed")
    assert nudges.keys() == {missed.pk}
    assert nudges[missed.pk].local_date == dt.date(2026, 6, 11)

    reminder_send(reminder_id=nudges[missed.pk].pk, now=utc(2026, 6, 11, 13, 30))
    assert "yesterday" in mail.outbox[-1].body.lower()


def test_no_missed_session_nudge_unless_the_clinic_enables_it(make_patient, clinic):
    make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    deliver_all(utc(2026, 6, 10, 22, 30))
    dispatch_due_reminders(now=utc(2026, 6, 11, 13, 30))
    assert not rows(kind="missed")


# --- sending -------------------------------------------------------------------------------


def test_sending_twice_delivers_once(make_patient):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]

    first = reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))
    second = reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 32))

    assert (first, second) == ("sent", "sent")
    assert len(mail.outbox) == 1
    reminder.refresh_from_db()
    assert reminder.attempts == 1
    assert reminder.sent_at is not None


def test_the_email_names_the_patient_and_lists_todays_exercises_with_dosage(
    make_patient, exercises
):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]
    reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))

    (email,) = mail.outbox
    assert email.to == [patient.email]
    assert patient.first_name in email.subject
    assert email.extra_headers["X-Stride-Idempotency-Key"] == f"stride-reminder-{reminder.pk}"
    html, mimetype = email.alternatives[0]
    assert mimetype == "text/html"
    for exercise in exercises:
        assert f"{exercise.name}: 2 × 10" in email.body
        assert exercise.name in html
    assert f"Hi {patient.first_name}" in email.body
    assert f"Hi {patient.first_name}" in html


def test_a_session_logged_after_dispatch_cancels_the_send(make_patient):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    log_session(patient, utc(2026, 6, 10, 22, 31))

    outcome = reminder_send(reminder_id=rows()[patient.pk].pk, now=utc(2026, 6, 10, 22, 32))

    assert outcome == "skipped"
    assert rows()[patient.pk].skip_reason == SkipReason.LOGGED
    assert not mail.outbox


def test_a_reminder_not_sent_before_the_local_day_ended_expires(make_patient):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    outcome = reminder_send(reminder_id=rows()[patient.pk].pk, now=utc(2026, 6, 11, 4, 30))
    assert outcome == "skipped"
    assert rows()[patient.pk].skip_reason == SkipReason.EXPIRED
    assert not mail.outbox


class FlakyChannel:
    failures_left = 0
    calls = 0

    def send(self, reminder, message):
        type(self).calls += 1
        if type(self).failures_left:
            type(self).failures_left -= 1
            raise DeliveryError("provider timed out")


@pytest.fixture
def flaky_channel(monkeypatch):
    FlakyChannel.failures_left = 0
    FlakyChannel.calls = 0
    monkeypatch.setattr(sending, "channel_for", lambda name: FlakyChannel())
    return FlakyChannel


def test_a_failed_attempt_is_recorded_and_released_for_a_retry(make_patient, flaky_channel):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]
    flaky_channel.failures_left = 1

    with pytest.raises(DeliveryError):
        reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("pending", 1)
    assert "provider timed out" in reminder.last_error

    assert reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 32)) == "sent"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("sent", 2, "")


def test_attempts_run_out_and_the_reminder_fails(make_patient, flaky_channel, settings):
    settings.STRIDE_REMINDER_MAX_ATTEMPTS = 3
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]
    flaky_channel.failures_left = 10

    for _ in range(2):
        with pytest.raises(DeliveryError):
            reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))
    assert reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31)) == "failed"
    assert reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31)) == "failed"
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("failed", 3)
    assert flaky_channel.calls == 3


def test_a_permanent_error_fails_at_once(make_patient):
    patient = make_patient()
    patient_services.patient_update(patient=patient, email="")
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))

    outcome = reminder_send(reminder_id=rows()[patient.pk].pk, now=utc(2026, 6, 10, 22, 31))

    reminder = rows()[patient.pk]
    assert (outcome, reminder.status, reminder.attempts) == ("failed", "failed", 1)
    assert "no e-mail address" in reminder.last_error


def test_the_task_retries_delivery_errors_and_records_every_attempt(make_patient, flaky_channel):
    patient = make_patient(at=dt.time(0, 0))
    dispatch_due_reminders()
    reminder = rows()[patient.pk]
    flaky_channel.failures_left = 2

    with pytest.raises(Retry) as first:
        send_reminder_task.apply(args=(reminder.pk,), throw=True)
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("pending", 1)
    assert "provider timed out" in reminder.last_error

    with pytest.raises(Retry) as second:
        first.value.sig.apply(throw=True)  # what the broker delivers after the countdown
    second.value.sig.apply(throw=True)

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("sent", 3, "")
    assert flaky_channel.calls == 3


def test_the_send_task_is_configured_for_redelivery_and_bounded_time():
    task = send_reminder_task
    assert task.acks_late
    assert task.reject_on_worker_lost
    assert task.time_limit == reminders.send_lease().total_seconds() - 2
    assert task.soft_time_limit < task.time_limit
    assert task.autoretry_for == (DeliveryError,)
    assert task.retry_backoff
    assert task.retry_jitter


def test_a_row_held_by_a_live_sender_is_left_alone(make_patient):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]
    Reminder.objects.filter(pk=reminder.pk).update(
        status="sending", claimed_at=dt.datetime.now(dt.UTC), attempts=1
    )

    with pytest.raises(reminders.ReminderBusy) as busy:
        reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))

    assert 1 <= busy.value.retry_in <= reminders.send_lease().total_seconds() + 1
    assert not mail.outbox


def test_a_row_left_sending_by_a_dead_worker_is_claimed_again_after_the_lease(make_patient):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]
    abandoned = dt.datetime.now(dt.UTC) - reminders.send_lease() - dt.timedelta(seconds=5)
    Reminder.objects.filter(pk=reminder.pk).update(
        status="sending", claimed_at=abandoned, attempts=1
    )

    assert reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31)) == "sent"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("sent", 2)
    assert len(mail.outbox) == 1


def test_a_sender_whose_claim_was_taken_over_does_not_overwrite_the_row(make_patient, monkeypatch):
    patient = make_patient()
    dispatch_due_reminders(now=utc(2026, 6, 10, 22, 30))
    reminder = rows()[patient.pk]

    class SlowChannel:
        def send(self, reminder, message):
            # Meanwhile the lease ran out and another sender claimed the row.
            Reminder.objects.filter(pk=reminder.pk).update(attempts=F("attempts") + 1)

    monkeypatch.setattr(sending, "channel_for", lambda name: SlowChannel())
    reminder_send(reminder_id=reminder.pk, now=utc(2026, 6, 10, 22, 31))

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("sending", 2)


def test_dispatch_enqueues_after_commit_and_each_reminder_is_delivered(
    make_patient, django_capture_on_commit_callbacks
):
    patients = [make_patient(at=dt.time(0, 0)) for _ in range(3)]

    with django_capture_on_commit_callbacks(execute=True):
        result = dispatch_due_reminders()

    assert result.enqueued == 3
    assert sorted(email.to[0] for email in mail.outbox) == sorted(p.email for p in patients)
    assert set(Reminder.objects.values_list("status", flat=True)) == {"sent"}


def test_stuck_rows_are_enqueued_again_by_the_next_dispatch(
    make_patient, django_capture_on_commit_callbacks
):
    patient = make_patient(at=dt.time(0, 0))
    dispatch_due_reminders()  # on-commit not run: as if the enqueue had been lost
    reminder = rows()[patient.pk]
    Reminder.objects.filter(pk=reminder.pk).update(
        created_at=F("created_at") - dt.timedelta(minutes=20)
    )

    result = dispatch_due_reminders()

    assert result.requeued == 1
    reminder.refresh_from_db()
    assert reminder.status == "sent"
    assert len(mail.outbox) == 1


# --- query counts ---------------------------------------------------------------------------


# 12:00 UTC on 10 June: 08:00 in New York, 14:00 in Berlin, 21:00 in Tokyo. One local date,
# no zone in the missed-nudge morning window.
QUERY_COUNT_MOMENT = utc(2026, 6, 10, 12, 0)


def _make_due_patients(count: int, make_patient) -> None:
    zones = (NEW_YORK, "Europe/Berlin", "Asia/Tokyo")
    for n in range(count):
        make_patient(tz=zones[n % 3], at=dt.time(0, 0))


def _dispatch_queries(expected: int) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = dispatch_due_reminders(now=QUERY_COUNT_MOMENT)
    assert result.created["session"] == expected
    return len(queries.captured_queries)


@pytest.mark.parametrize("count", [5, 50])
def test_dispatch_runs_a_bounded_number_of_queries(
    count, make_patient, django_assert_max_num_queries
):
    _make_due_patients(count, make_patient)
    # Time zones (1), per local date and batch: savepoint, JIT off (PostgreSQL), candidates,
    # insert, our rows (other databases), release (5), stuck-row sweep (1).
    with django_assert_max_num_queries(7):
        dispatch_due_reminders(now=QUERY_COUNT_MOMENT)
    assert Reminder.objects.count() == count


def test_dispatch_query_count_does_not_grow_with_the_number_of_patients(make_patient):
    _make_due_patients(5, make_patient)
    few = _dispatch_queries(expected=5)
    Reminder.objects.all().delete()
    _make_due_patients(45, make_patient)
    many = _dispatch_queries(expected=50)
    assert few == many


def test_each_local_date_costs_one_more_fixed_set_of_queries(make_patient):
    _make_due_patients(6, make_patient)
    make_patient(tz="Pacific/Kiritimati", at=dt.time(0, 0))  # UTC+14: already 11 June
    with CaptureQueriesContext(connection) as queries:
        result = dispatch_due_reminders(now=QUERY_COUNT_MOMENT)
    assert result.created["session"] == 7
    assert len(queries.captured_queries) <= 1 + 2 * 5 + 1


def test_batches_add_a_fixed_number_of_queries(make_patient, settings):
    settings.STRIDE_REMINDER_BATCH_SIZE = 4
    for _ in range(10):
        make_patient(at=dt.time(0, 0))
    with CaptureQueriesContext(connection) as queries:
        result = dispatch_due_reminders(now=QUERY_COUNT_MOMENT)
    assert result.batches == 3
    assert result.created["session"] == 10
    assert len(queries.captured_queries) <= 1 + 3 * 5 + 1


# --- operations ----------------------------------------------------------------------------


def test_the_management_command_runs_one_dispatch(make_patient):
    patient = make_patient()
    out = StringIO()
    call_command("dispatch_reminders", "--at", "2026-06-10T22:30:00+00:00", stdout=out)
    assert json.loads(out.getvalue())["created"] == {"session": 1}
    assert rows().keys() == {patient.pk}


# --- weekly therapist digest ----------------------------------------------------------------


@pytest.fixture
def private_cache(settings):
    # The digest remembers a sent week in the cache; with REDIS_URL that cache is shared by
    # every test run, whose primary keys repeat.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"digest-{uuid.uuid4()}",
        }
    }


def _patient_with_program(clinic, therapist, exercises, first_name, last_name):
    patient = factories.create_patient(
        clinic=clinic, therapist=therapist, first_name=first_name, last_name=last_name
    )
    factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=exercises, start_date=START
    )
    return patient


def test_the_weekly_digest_lists_the_therapists_active_patients(
    clinic, therapist, exercises, private_cache
):
    ada = _patient_with_program(clinic, therapist, exercises, "Ada", "Lovelace")
    _patient_with_program(clinic, therapist, exercises, "Ben", "Okafor")
    gone = _patient_with_program(clinic, therapist, exercises, "Cy", "Gone")
    services.patient_discharge(patient=gone)
    colleague = factories.PractitionerFactory(clinic=clinic)
    _patient_with_program(clinic, colleague, exercises, "Dee", "Elsewhere")
    log_session(ada, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    alert_open(patient=ada, kind="inactive", severity="warning", message="Inactive for 5 days")

    sent = digest.therapist_digest_send(practitioner_id=therapist.pk)

    assert sent is True
    (email,) = mail.outbox
    assert email.to == [therapist.user.email]
    assert "2 patients" in email.subject
    assert "Ada Lovelace" in email.body
    assert "Ben Okafor" in email.body
    assert "Cy Gone" not in email.body
    assert "Dee Elsewhere" not in email.body
    assert "latest pain 2/10" in email.body
    assert "1 open alert (warning)" in email.body
    assert email.body.index("Ada Lovelace") < email.body.index("Ben Okafor")  # alerts first
    html, _ = email.alternatives[0]
    assert "Ada Lovelace" in html


def test_the_digest_goes_out_once_a_week(clinic, therapist, exercises, private_cache):
    _patient_with_program(clinic, therapist, exercises, "Ada", "Lovelace")
    monday = dt.date(2026, 6, 15)
    assert digest.therapist_digest_send(practitioner_id=therapist.pk, today=monday)
    assert not digest.therapist_digest_send(
        practitioner_id=therapist.pk, today=monday + dt.timedelta(days=2)
    )
    assert digest.therapist_digest_send(
        practitioner_id=therapist.pk, today=monday + dt.timedelta(days=7)
    )
    assert len(mail.outbox) == 2


def test_the_digest_task_sends_one_email_per_therapist_with_active_patients(
    clinic, therapist, exercises, private_cache
):
    _patient_with_program(clinic, therapist, exercises, "Ada", "Lovelace")
    colleague = factories.PractitionerFactory(clinic=clinic)
    _patient_with_program(clinic, colleague, exercises, "Dee", "Elsewhere")
    factories.PractitionerFactory(clinic=clinic)  # no patients: no digest

    assert send_therapist_digests_task.apply().get() == 2

    assert sorted(email.to[0] for email in mail.outbox) == sorted(
        [therapist.user.email, colleague.user.email]
    )


def test_digest_lines_put_open_alerts_first_then_the_lowest_adherence():
    def row(name, adherence, open_alerts):
        return SimpleNamespace(
            name=name,
            adherence_recent=adherence,
            latest_pain=None,
            pain_direction=None,
            last_session_on=None,
            open_alerts=open_alerts,
            top_severity="warning" if open_alerts else None,
        )

    rows = [row("a", 0.9, 0), row("b", None, 0), row("c", 0.2, 0), row("d", 0.95, 2)]
    assert [line.name for line in digest.digest_lines(rows)] == ["d", "c", "a", "b"]
