import datetime as dt
import uuid
import zoneinfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from programs import adherence, services
from programs.models import ExerciseLog, Protocol, SessionLog
from tests import factories

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
MONDAY = dt.date(2026, 3, 2)  # ISO week 2026-W10


@pytest.fixture
def daily_program(patient, therapist, exercises):
    return factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=MONDAY,
        sessions_per_week=7,
    )


def log_on(prescription, day: dt.date, *, hour: int = 18, times: int = 1, tz=NEW_YORK):
    """Store sessions directly (the service refuses dates relative to the real today)."""
    for _ in range(times):
        performed_at = dt.datetime.combine(day, dt.time(hour), tzinfo=tz)
        SessionLog.objects.create(
            prescription=prescription,
            patient=prescription.patient,
            client_id=uuid.uuid4(),
            performed_at=performed_at,
            local_date=prescription.patient.local_date(performed_at),
            pain_after=3,
        )


def test_a_full_week_with_five_of_seven_sessions(daily_program):
    for offset in range(5):
        log_on(daily_program, MONDAY + dt.timedelta(days=offset))
    report = adherence.prescription_adherence(daily_program, today=MONDAY + dt.timedelta(days=7))
    (week, _next) = report.weeks
    assert week.iso_week == "2026-W10"
    assert (week.sessions_planned, week.sessions_done) == (7, 5)
    assert week.ratio == pytest.approx(5 / 7)
    assert week.complete
    assert week.on_track is False


def test_a_partial_first_week_is_prorated(patient, therapist, exercises):
    thursday = MONDAY + dt.timedelta(days=3)
    program = factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=thursday,
        sessions_per_week=3,
    )
    log_on(program, thursday)
    log_on(program, thursday + dt.timedelta(days=2))
    report = adherence.prescription_adherence(program, today=MONDAY + dt.timedelta(days=7))
    first_week = report.weeks[0]
    # Thursday to Sunday is 4 of 7 days: 3 × 4/7 sessions planned.
    assert first_week.sessions_planned == pytest.approx(12 / 7, abs=1e-3)
    assert first_week.sessions_done == 2
    assert first_week.ratio == 1.0  # capped: 2 done ≥ 1.71 planned


def test_paused_days_plan_nothing_and_sessions_on_them_do_not_count(daily_program):
    services.program_pause(prescription=daily_program, on_date=MONDAY + dt.timedelta(days=7))
    services.program_resume(prescription=daily_program, on_date=MONDAY + dt.timedelta(days=14))
    log_on(daily_program, MONDAY + dt.timedelta(days=8))  # during the pause
    for offset in range(14, 21):
        log_on(daily_program, MONDAY + dt.timedelta(days=offset))
    report = adherence.prescription_adherence(daily_program, today=MONDAY + dt.timedelta(days=21))
    first, paused, third, _current = report.weeks
    assert first.ratio == 0.0
    assert (paused.sessions_planned, paused.sessions_done, paused.ratio) == (0, 0, None)
    assert third.ratio == 1.0
    assert report.overall.sessions_planned == 14
    assert report.overall.sessions_done == 7
    # The paused week neither breaks nor extends a streak.
    assert (report.current_streak_weeks, report.longest_streak_weeks) == (1, 1)


def test_days_before_the_start_are_not_planned(daily_program):
    window = adherence.adherence_between(
        daily_program,
        MONDAY - dt.timedelta(days=10),
        MONDAY + dt.timedelta(days=2),
        today=MONDAY + dt.timedelta(days=30),
    )
    assert window.sessions_planned == 2


def test_today_counts_only_once_a_session_is_logged(daily_program):
    today = MONDAY + dt.timedelta(days=3)
    for offset in range(3):
        log_on(daily_program, MONDAY + dt.timedelta(days=offset))
    before = adherence.adherence_between(
        daily_program, MONDAY, today + dt.timedelta(1), today=today
    )
    assert (before.sessions_planned, before.ratio) == (3, 1.0)
    log_on(daily_program, today)
    after = adherence.adherence_between(daily_program, MONDAY, today + dt.timedelta(1), today=today)
    assert (after.sessions_planned, after.sessions_done) == (4, 4)


def test_a_phase_change_switches_the_planned_rate(patient, therapist):
    protocol = Protocol.objects.get(slug="total-hip-replacement-posterior")
    program = services.program_assign(
        patient=patient, prescriber=therapist, protocol=protocol, start_date=MONDAY
    )
    phase_one = program.current_phase
    switch = MONDAY + dt.timedelta(days=14)
    services.phase_advance(prescription=program, on_date=switch)
    program.refresh_from_db()
    phase_two = program.current_phase
    # Precondition: the shipped protocol tapers, so the two rates differ.
    assert phase_one.sessions_per_week != phase_two.sessions_per_week
    end = switch + dt.timedelta(days=7)
    window = adherence.adherence_between(program, MONDAY, end, today=end)
    expected = 14 * phase_one.sessions_per_week / 7 + 7 * phase_two.sessions_per_week / 7
    assert window.sessions_planned == pytest.approx(expected, abs=1e-3)
    report = adherence.prescription_adherence(
        program, today=end, phase_names={phase_one.pk: "one", phase_two.pk: "two"}
    )
    assert [p.phase_name for p in report.phases] == ["one", "two"]
    assert report.phases[0].window.end == switch


@pytest.mark.parametrize(
    ("tz_name", "performed_at_utc", "expected_local_date"),
    [
        # 23:30 in Los Angeles on 3 March is 07:30 UTC on 4 March: it counts for 3 March.
        ("America/Los_Angeles", dt.datetime(2026, 3, 4, 7, 30, tzinfo=dt.UTC), dt.date(2026, 3, 3)),
        # 00:30 in Los Angeles on 4 March.
        ("America/Los_Angeles", dt.datetime(2026, 3, 4, 8, 30, tzinfo=dt.UTC), dt.date(2026, 3, 4)),
        # 23:30 in London is the same day, whichever side of UTC midnight New York is on.
        ("Europe/London", dt.datetime(2026, 3, 3, 23, 30, tzinfo=dt.UTC), dt.date(2026, 3, 3)),
        # New York springs forward on 8 March 2026: 23:30 EDT is 03:30 UTC next day.
        ("America/New_York", dt.datetime(2026, 3, 9, 3, 30, tzinfo=dt.UTC), dt.date(2026, 3, 8)),
        # The evening before the change is still EST: 23:30 EST is 04:30 UTC.
        ("America/New_York", dt.datetime(2026, 3, 8, 4, 30, tzinfo=dt.UTC), dt.date(2026, 3, 7)),
        # Falling back on 1 November 2026: 23:30 EST is 04:30 UTC on 2 November.
        ("America/New_York", dt.datetime(2026, 11, 2, 4, 30, tzinfo=dt.UTC), dt.date(2026, 11, 1)),
    ],
)
def test_sessions_count_on_the_patients_local_date(
    clinic, therapist, exercises, tz_name, performed_at_utc, expected_local_date
):
    patient = factories.create_patient(clinic=clinic, therapist=therapist, timezone_name=tz_name)
    program = factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=dt.date(2026, 3, 1),
        sessions_per_week=7,
    )
    session = SessionLog.objects.create(
        prescription=program,
        patient=patient,
        client_id=uuid.uuid4(),
        performed_at=performed_at_utc,
        local_date=patient.local_date(performed_at_utc),
    )
    assert session.local_date == expected_local_date
    window = adherence.adherence_between(
        program,
        expected_local_date,
        expected_local_date + dt.timedelta(days=1),
        today=expected_local_date + dt.timedelta(days=5),
    )
    assert (window.sessions_planned, window.sessions_done) == (1, 1)


def test_a_week_across_the_dst_change_plans_seven_days(daily_program):
    # The ISO week of 2 to 8 March contains the spring-forward day; it still has 7 local days.
    for offset in range(7):
        log_on(daily_program, MONDAY + dt.timedelta(days=offset), hour=23)
    report = adherence.prescription_adherence(daily_program, today=MONDAY + dt.timedelta(days=8))
    assert (report.weeks[0].sessions_planned, report.weeks[0].sessions_done) == (7, 7)


def test_streaks_count_complete_on_plan_weeks(daily_program):
    pattern = [7, 7, 2, 7, 7, 7]  # sessions in each of six weeks
    for week, count in enumerate(pattern):
        for day in range(count):
            log_on(daily_program, MONDAY + dt.timedelta(days=7 * week + day))
    report = adherence.prescription_adherence(daily_program, today=MONDAY + dt.timedelta(days=42))
    assert [w.on_track for w in report.weeks if w.complete] == [True, True, False, True, True, True]
    assert (report.current_streak_weeks, report.longest_streak_weeks) == (3, 3)


def test_exercise_completion_is_entries_done_over_entries_prescribed(daily_program):
    log_on(daily_program, MONDAY)
    session = SessionLog.objects.get()
    first, second, third = daily_program.exercises.order_by("order")
    ExerciseLog.objects.bulk_create(
        [
            ExerciseLog(session=session, prescribed_exercise=first, completed=True),
            ExerciseLog(session=session, prescribed_exercise=second, completed=True),
            ExerciseLog(
                session=session, prescribed_exercise=third, completed=False, skipped_reason="sore"
            ),
        ]
    )
    completion = adherence.exercise_completion(daily_program, MONDAY, MONDAY + dt.timedelta(7))
    assert completion == pytest.approx(2 / 3)


def test_recent_adherence_for_many_programs_uses_two_queries(
    clinic, therapist, exercises, django_assert_num_queries
):
    programs = []
    for index in range(5):
        patient = factories.create_patient(
            clinic=clinic, therapist=therapist, last_name=f"P{index}"
        )
        program = factories.assign_custom_program(
            patient=patient,
            prescriber=therapist,
            exercises=exercises,
            start_date=MONDAY,
            sessions_per_week=7,
        )
        for offset in range(index):
            log_on(program, MONDAY + dt.timedelta(days=offset))
        programs.append(program)
    today = MONDAY + dt.timedelta(days=13)
    with django_assert_num_queries(2):
        windows = adherence.recent_adherence(
            programs, days=14, today_by_prescription={p.pk: today for p in programs}
        )
    assert [windows[p.pk].sessions_done for p in programs] == [0, 1, 2, 3, 4]
    assert all(windows[p.pk].sessions_planned == 13 for p in programs)


def brute_force_ratio(
    start: dt.date,
    per_week: int,
    pause: tuple[int, int] | None,
    session_days: list[int],
    window: tuple[int, int],
    today_offset: int,
) -> tuple[float, int, float | None]:
    planned = 0.0
    done = 0
    for offset in range(window[0], window[1]):
        if offset < 0 or offset > today_offset:
            continue
        if pause and pause[0] <= offset < pause[1]:
            continue
        sessions = session_days.count(offset)
        if offset == today_offset and not sessions:
            continue
        planned += per_week / 7
        done += sessions
    ratio = None if planned == 0 else min(1.0, done / planned)
    return planned, done, ratio


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    per_week=st.integers(min_value=1, max_value=14),
    pause_start=st.one_of(st.none(), st.integers(min_value=1, max_value=20)),
    pause_length=st.integers(min_value=1, max_value=10),
    session_days=st.lists(st.integers(min_value=-3, max_value=30), max_size=40),
    window_start=st.integers(min_value=-5, max_value=25),
    window_length=st.integers(min_value=1, max_value=30),
    today_offset=st.integers(min_value=0, max_value=30),
)
def test_adherence_matches_a_brute_force_count_and_stays_in_0_1(
    patient,
    therapist,
    exercises,
    per_week,
    pause_start,
    pause_length,
    session_days,
    window_start,
    window_length,
    today_offset,
):
    with transaction.atomic():
        program = factories.assign_custom_program(
            patient=patient,
            prescriber=therapist,
            exercises=exercises,
            start_date=MONDAY,
            sessions_per_week=per_week,
        )
        pause = None
        if pause_start is not None:
            pause = (pause_start, pause_start + pause_length)
            services.program_pause(prescription=program, on_date=MONDAY + dt.timedelta(pause[0]))
            services.program_resume(prescription=program, on_date=MONDAY + dt.timedelta(pause[1]))
        for offset in session_days:
            if offset >= 0:  # the service never stores sessions before the start
                log_on(program, MONDAY + dt.timedelta(days=offset))
        stored_days = [offset for offset in session_days if offset >= 0]
        window = (window_start, window_start + window_length)
        result = adherence.adherence_between(
            program,
            MONDAY + dt.timedelta(days=window[0]),
            MONDAY + dt.timedelta(days=window[1]),
            today=MONDAY + dt.timedelta(days=today_offset),
        )
        planned, done, ratio = brute_force_ratio(
            MONDAY, per_week, pause, stored_days, window, today_offset
        )
        assert result.sessions_planned == pytest.approx(planned, abs=1e-3)
        assert result.sessions_done == done
        if ratio is None:
            assert result.ratio is None
        else:
            assert 0.0 <= result.ratio <= 1.0
            assert result.ratio == pytest.approx(ratio, abs=1e-3)
        transaction.set_rollback(True)


# --- window_from_days sums per stretch of days: the day-by-day definition is the reference ----


def day_by_day_window(schedule, done_by_day, start, end, today) -> tuple[float, int]:
    """Planned and done as first defined: every day of [start, end) up to today, today only
    once a session is logged, sessions only on planned days."""
    planned, done = 0.0, 0
    day = start
    while day < min(end, today + dt.timedelta(days=1)):
        if not (day == today and not done_by_day.get(day)):
            day_planned = schedule.planned_on(day)
            if day_planned > 0:
                planned += day_planned
                done += done_by_day.get(day, 0)
        day += dt.timedelta(days=1)
    return round(planned, 4), done


@settings(max_examples=300, deadline=None)
@given(
    stretches=st.lists(
        st.tuples(st.integers(0, 100), st.integers(1, 60), st.integers(1, 14)), max_size=4
    ),
    open_phase=st.booleans(),
    pauses=st.lists(st.tuples(st.integers(0, 110), st.integers(0, 30)), max_size=3),
    open_pause=st.booleans(),
    completed_after=st.one_of(st.none(), st.integers(0, 120)),
    logged=st.dictionaries(st.integers(-10, 130), st.integers(0, 3), max_size=40),
    window=st.tuples(st.integers(-20, 130), st.integers(0, 200)),
    today_offset=st.integers(-5, 140),
)
def test_window_from_days_equals_the_day_by_day_sum(
    stretches, open_phase, pauses, open_pause, completed_after, logged, window, today_offset
):
    """Overlapping phases, open periods, pauses over phase changes, completion, windows
    before the start or past today: the same planned and done as counting day by day."""
    start_date = MONDAY
    on = lambda offset: start_date + dt.timedelta(days=offset)  # noqa: E731
    phases = [
        (on(first), on(first + length), per_week, None) for first, length, per_week in stretches
    ]
    if phases and open_phase:
        first, _, per_week, _ = phases[-1]
        phases[-1] = (first, None, per_week, None)
    pause_periods = [(on(first), on(first + length)) for first, length in pauses]
    if pause_periods and open_pause:
        pause_periods[-1] = (pause_periods[-1][0], None)
    schedule = adherence.Schedule(
        start_date,
        None if completed_after is None else on(completed_after),
        phases,
        pause_periods,
    )
    done_by_day = {on(offset): n for offset, n in logged.items()}
    start, end = on(window[0]), on(window[0] + window[1])
    today = on(today_offset)

    expected = day_by_day_window(schedule, done_by_day, start, end, today)

    result = adherence.window_from_days(schedule, done_by_day, start, end, today)

    assert (result.sessions_planned, result.sessions_done) == expected
