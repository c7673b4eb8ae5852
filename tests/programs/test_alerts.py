import datetime as dt
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from programs import alerts, services
from programs.models import Alert, SessionLog
from tests import factories

pytestmark = pytest.mark.django_db


def backdate(prescription, days: int):
    start = prescription.patient.local_date() - dt.timedelta(days=days)
    prescription.start_date = start
    prescription.phase_started_on = start
    prescription.save()
    prescription.periods.update(started_on=start)


def log(prescription, days_ago: int, pain_after: int | None = 2):
    moment = timezone.now() - dt.timedelta(days=days_ago)
    return SessionLog.objects.create(
        prescription=prescription,
        patient=prescription.patient,
        client_id=uuid.uuid4(),
        performed_at=moment,
        local_date=prescription.patient.local_date(moment),
        pain_after=pain_after,
    )


# --- pain spike ------------------------------------------------------------------------------


def test_pain_at_or_above_the_absolute_limit_opens_one_alert(prescription):
    first = log(prescription, 0, pain_after=7)
    second = log(prescription, 0, pain_after=8)
    assert alerts.alerts_evaluate_session(session_id=first.pk) == ["pain_spike"]
    assert alerts.alerts_evaluate_session(session_id=second.pk) == []
    assert Alert.objects.filter(kind="pain_spike").count() == 1


def test_pain_two_points_above_baseline_is_a_spike(prescription):
    backdate(prescription, 20)
    for days_ago in range(20, 13, -1):
        log(prescription, days_ago, pain_after=2)
    spike = log(prescription, 0, pain_after=4)
    assert alerts.alerts_evaluate_session(session_id=spike.pk) == ["pain_spike"]
    alert = Alert.objects.get()
    assert alert.details["baseline"] == 2.0
    assert alert.severity == "warning"


def test_pain_below_both_limits_opens_nothing(prescription):
    backdate(prescription, 20)
    for days_ago in range(20, 13, -1):
        log(prescription, days_ago, pain_after=3)
    calm = log(prescription, 0, pain_after=4)
    assert alerts.alerts_evaluate_session(session_id=calm.pk) == []
    assert not Alert.objects.exists()


def test_a_patient_override_lowers_the_absolute_limit(prescription):
    patient = prescription.patient
    patient.pain_spike_absolute = 5
    patient.save()
    session = log(prescription, 0, pain_after=5)
    assert alerts.alerts_evaluate_session(session_id=session.pk) == ["pain_spike"]


def test_acknowledging_records_who_and_when_and_allows_a_new_alert(prescription, therapist):
    alerts.alerts_evaluate_session(session_id=log(prescription, 0, pain_after=9).pk)
    alert = Alert.objects.get()
    acknowledged = alerts.alert_acknowledge(alert=alert, by=therapist.user, note="Called her")
    assert acknowledged.acknowledged_by == therapist.user
    assert acknowledged.acknowledgement_note == "Called her"
    assert acknowledged.acknowledged_at is not None
    with pytest.raises(ValidationError):
        alerts.alert_acknowledge(alert=alert, by=therapist.user)
    alerts.alerts_evaluate_session(session_id=log(prescription, 0, pain_after=9).pk)
    assert Alert.objects.filter(kind="pain_spike").count() == 2
    assert Alert.objects.filter(kind="pain_spike", acknowledged_at=None).count() == 1


# --- the upload's own check: a task only for a session the rule finds a spike in -------------


def upload(prescription, pain_after, pain_before=None, days_ago=0, source=SessionLog.Source.APP):
    return factories.record_session(
        prescription,
        days_ago=days_ago,
        pain_before=pain_before,
        pain_after=pain_after,
        source=source,
    )


@pytest.mark.parametrize(
    ("first_week", "later", "override", "pain_after"),
    [
        ([], [], None, 6),  # no baseline yet, below the absolute limit
        ([], [], None, 7),  # at the clinic's absolute limit
        ([], [], 5, 5),  # at the patient's own limit
        ([(None, 2), (None, 2), (None, 3)], [], None, 4),  # 1.7 above a 2.33 baseline
        ([(None, 2), (None, 2), (None, 2)], [], None, 4),  # 2 above a 2.0 baseline
        # The pain before exercise stands in when there is none after (`session_pain_value`).
        ([(1, None), (5, 1)], [], None, 3),  # 2 above a 1.0 baseline
        ([(2, None), (None, None)], [8, 8], None, 4),  # later weeks do not move the baseline
        ([(None, None)], [], None, 2),  # sessions without pain: no baseline
    ],
)
def test_an_upload_enqueues_the_check_exactly_when_the_task_opens_an_alert(
    prescription, django_capture_on_commit_callbacks, first_week, later, override, pain_after
):
    backdate(prescription, 20)
    patient = prescription.patient
    if override is not None:
        patient.pain_spike_absolute = override
        patient.save()
    for offset, (before, after) in enumerate(first_week):
        session = log(prescription, 20 - offset, pain_after=after)
        SessionLog.objects.filter(pk=session.pk).update(pain_before=before)
    for offset, pain in enumerate(later):
        log(prescription, 5 - offset, pain_after=pain)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        session, created = upload(prescription, pain_after)

    opened = Alert.objects.filter(patient=patient, kind=Alert.Kind.PAIN_SPIKE).exists()
    assert created
    assert len(factories.task_callbacks(callbacks)) == (1 if opened else 0)
    # The task, run again on the stored history, agrees with the upload's decision.
    Alert.objects.all().delete()
    assert bool(alerts.alerts_evaluate_session(session_id=session.pk)) == opened


def test_the_expected_uploads_enqueue_and_the_calm_ones_do_not(
    prescription, django_capture_on_commit_callbacks
):
    # The table above must hold both outcomes, or it proves nothing: spot-check each one.
    backdate(prescription, 20)
    with django_capture_on_commit_callbacks(execute=True) as calm:
        upload(prescription, 3)
    with django_capture_on_commit_callbacks(execute=True) as spike:
        upload(prescription, 8)
    assert (len(factories.task_callbacks(calm)), len(factories.task_callbacks(spike))) == (0, 1)
    assert Alert.objects.filter(kind=Alert.Kind.PAIN_SPIKE).count() == 1


# --- the sweep -------------------------------------------------------------------------------


def test_a_program_without_sessions_for_too_long_opens_an_inactive_alert(prescription):
    backdate(prescription, 30)
    log(prescription, 6)
    result = alerts.alerts_sweep()
    assert result.opened.get("inactive") == 1
    alert = Alert.objects.get(kind="inactive")
    assert alert.details["idle_days"] == 6


def test_recent_activity_opens_no_inactive_alert(prescription):
    backdate(prescription, 30)
    for days_ago in range(0, 14):
        log(prescription, days_ago)
    assert alerts.alerts_sweep().opened == {}


def test_low_adherence_over_the_window_opens_an_alert(prescription):
    backdate(prescription, 30)
    for days_ago in (1, 2, 3):  # 3 of 13 × 5/7 ≈ 9.3 planned sessions
        log(prescription, days_ago)
    result = alerts.alerts_sweep()
    assert result.opened == {"low_adherence": 1}
    alert = Alert.objects.get(kind="low_adherence")
    assert alert.details["ratio"] < 0.5


def test_a_new_program_is_not_judged_on_a_partial_window(prescription):
    backdate(prescription, 5)
    log(prescription, 1)
    assert "low_adherence" not in alerts.alerts_sweep().opened


def test_paused_programs_and_discharged_patients_are_not_swept(prescription):
    backdate(prescription, 30)
    services.program_pause(prescription=prescription)
    assert alerts.alerts_sweep().prescriptions_checked == 0


def test_the_sweep_run_twice_opens_nothing_new(prescription, clinic, therapist, exercises):
    backdate(prescription, 30)
    other = factories.assign_custom_program(
        patient=factories.create_patient(clinic=clinic, therapist=therapist, last_name="B"),
        prescriber=therapist,
        exercises=exercises,
    )
    backdate(other, 30)
    first = alerts.alerts_sweep()
    assert first.opened == {"inactive": 2, "low_adherence": 2}
    second = alerts.alerts_sweep()
    assert second.opened == {}
    assert Alert.objects.count() == 4


def test_the_sweep_query_count_does_not_grow_with_programs(
    clinic, therapist, exercises, django_assert_max_num_queries
):
    for index in range(12):
        program = factories.assign_custom_program(
            patient=factories.create_patient(
                clinic=clinic, therapist=therapist, last_name=f"{index}"
            ),
            prescriber=therapist,
            exercises=exercises,
        )
        backdate(program, 30)
        for days_ago in range(14):
            log(program, days_ago)
    with django_assert_max_num_queries(6):
        assert alerts.alerts_sweep().opened == {}


def test_first_week_sessions_are_always_checked_after_commit(
    prescription, django_capture_on_commit_callbacks
):
    # The baseline is still forming: the task, run after commit, decides.
    backdate(prescription, 3)
    with django_capture_on_commit_callbacks(execute=True) as first_week:
        upload(prescription, 1)
    backdate(prescription, 20)
    with django_capture_on_commit_callbacks(execute=True) as later:
        upload(prescription, 1)
    with django_capture_on_commit_callbacks(execute=True) as no_pain:
        upload(prescription, None, pain_before=9)
    assert [len(factories.task_callbacks(c)) for c in (first_week, later, no_pain)] == [1, 0, 0]


def test_an_offline_batch_is_judged_on_the_whole_batch(
    prescription, django_capture_on_commit_callbacks
):
    # In the order the app sends them: the first day's pain is a spike only against the
    # baseline the later days make. Every item is checked once the batch has committed.
    backdate(prescription, 2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        spike, _ = upload(prescription, 5, days_ago=2, source=SessionLog.Source.SYNC)
        upload(prescription, 1, days_ago=1, source=SessionLog.Source.SYNC)
        upload(prescription, 1, days_ago=0, source=SessionLog.Source.SYNC)
    assert len(factories.task_callbacks(callbacks)) == 3
    alert = Alert.objects.get(kind=Alert.Kind.PAIN_SPIKE)
    assert alert.details["session_id"] == spike.pk
    assert alert.details["baseline"] == 1.0


def test_an_offline_batch_with_late_first_week_sessions_is_judged_on_all_of_them(
    prescription, django_capture_on_commit_callbacks
):
    # Past the first week, but the batch also brings first-week sessions after it.
    backdate(prescription, 20)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        later, _ = upload(prescription, 4, days_ago=10, source=SessionLog.Source.SYNC)
        upload(prescription, 1, days_ago=19, source=SessionLog.Source.SYNC)
        upload(prescription, 1, days_ago=18, source=SessionLog.Source.SYNC)
    alert = Alert.objects.get(kind=Alert.Kind.PAIN_SPIKE)
    assert alert.details["session_id"] == later.pk
