import datetime as dt
import uuid
import zoneinfo

import pytest

from programs import pain
from programs.models import SessionLog
from tests import factories

pytestmark = pytest.mark.django_db

START = dt.date(2026, 3, 2)
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def program(patient, therapist, exercises):
    return factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=exercises, start_date=START
    )


def log(program, offset: int, *, before: int | None, after: int | None):
    performed_at = dt.datetime.combine(START + dt.timedelta(offset), dt.time(9), tzinfo=NEW_YORK)
    SessionLog.objects.create(
        prescription=program,
        patient=program.patient,
        client_id=uuid.uuid4(),
        performed_at=performed_at,
        local_date=START + dt.timedelta(offset),
        pain_before=before,
        pain_after=after,
    )


def test_no_sessions_give_an_empty_trend(program):
    trend = pain.pain_trend(program, today=START)
    assert trend.days == []
    assert trend.baseline is None


def test_daily_values_rolling_mean_and_baseline(program):
    # First week: pain after 6 on days 0..6 -> baseline 6. Then 3 on days 7..13.
    for offset in range(7):
        log(program, offset, before=5, after=6)
    for offset in range(7, 14):
        log(program, offset, before=2, after=3)
    trend = pain.pain_trend(program, today=START + dt.timedelta(13))
    assert len(trend.days) == 14
    assert trend.baseline == 6.0
    assert trend.days[0].before == 5.0
    assert trend.days[0].after == 6.0
    # Day 9: the 7 days 3..9 hold 6,6,6,6,3,3,3 -> 33/7.
    assert trend.days[9].rolling_mean == pytest.approx(33 / 7, abs=0.01)
    assert trend.current == 3.0
    assert trend.latest == 3.0
    assert trend.change_from_baseline == -3.0
    # MCID: min(2 points, 30% of 6 = 1.8) -> 1.8; a 3-point drop passes it.
    assert trend.mcid_threshold == pytest.approx(1.8)
    assert trend.mcid_improved is True
    assert trend.mcid_worsened is False
    assert trend.direction == "improving"


def test_a_small_change_does_not_pass_the_mcid(program):
    for offset in range(7):
        log(program, offset, before=None, after=4)
    for offset in range(7, 14):
        log(program, offset, before=None, after=3)
    trend = pain.pain_trend(program, today=START + dt.timedelta(13))
    assert trend.change_from_baseline == -1.0
    assert trend.mcid_improved is False
    assert trend.direction == "improving"


def test_pain_before_stands_in_when_after_is_missing_and_worsening_is_flagged(program):
    for offset in range(7):
        log(program, offset, before=2, after=None)
    for offset in range(7, 14):
        log(program, offset, before=6, after=None)
    trend = pain.pain_trend(program, today=START + dt.timedelta(13))
    assert trend.baseline == 2.0
    assert trend.current == 6.0
    assert trend.mcid_worsened is True
    assert trend.direction == "worsening"


def test_direction_needs_data_in_both_halves_of_the_fortnight(program):
    log(program, 12, before=3, after=3)
    log(program, 13, before=3, after=3)
    trend = pain.pain_trend(program, today=START + dt.timedelta(13))
    assert trend.direction is None


def test_stable_pain(program):
    for offset in range(14):
        log(program, offset, before=3, after=3 + offset % 2)
    assert pain.pain_trend(program, today=START + dt.timedelta(13)).direction == "stable"
