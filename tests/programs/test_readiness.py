import datetime as dt
import uuid

import pytest
from django.utils import timezone

from patients.models import MeasureResponse
from programs import services
from programs.models import Protocol, SessionLog
from programs.readiness import phase_readiness

pytestmark = pytest.mark.django_db


@pytest.fixture
def thr(patient, therapist):
    protocol = Protocol.objects.get(slug="total-hip-replacement-posterior")
    last_phase = protocol.phases.order_by("-order").first()
    start = patient.local_date() - dt.timedelta(weeks=10)
    program = services.program_assign(
        patient=patient,
        prescriber=therapist,
        protocol=protocol,
        phase=last_phase,
        start_date=start,
    )
    return program


def log_days(program, days: int, pain_after: int):
    today = program.patient.local_date()
    for offset in range(days):
        day = today - dt.timedelta(days=offset)
        SessionLog.objects.create(
            prescription=program,
            patient=program.patient,
            client_id=uuid.uuid4(),
            performed_at=timezone.now() - dt.timedelta(days=offset),
            local_date=day,
            pain_after=pain_after,
        )


def criteria(readiness):
    return {c.key: c for c in readiness.criteria}


def test_every_criterion_is_reported_with_its_measured_value(thr):
    phase = thr.current_phase
    log_days(thr, 70, pain_after=1)
    MeasureResponse.objects.create(
        patient=thr.patient,
        instrument="hoos_jr",
        instrument_version="1.0",
        answers={},
        raw_score=2,
        score=85.257,
        taken_at=timezone.now(),
    )
    readiness = phase_readiness(thr)
    found = criteria(readiness)
    assert found["min_weeks"].met is True
    assert found["min_weeks"].measured == 10.0
    assert found["max_pain"].met is True
    assert found["max_pain"].measured == 1
    assert found["min_adherence"].met is True
    assert found["outcome_score"].measured == pytest.approx(85.257)
    assert found["outcome_score"].met is (float(phase.outcome_min_score) <= 85.257)
    assert readiness.ready is all(c.met for c in readiness.criteria)


def test_high_recent_pain_and_low_adherence_are_not_met(thr):
    log_days(thr, 3, pain_after=6)
    found = criteria(phase_readiness(thr))
    assert found["max_pain"].met is False
    assert found["max_pain"].measured == 6
    assert found["min_adherence"].met is False
    assert found["min_adherence"].measured < 0.8
    assert found["outcome_score"].met is False
    assert found["outcome_score"].measured is None


def test_too_few_sessions_do_not_meet_the_pain_criterion(thr):
    log_days(thr, 1, pain_after=0)
    pain = criteria(phase_readiness(thr))["max_pain"]
    assert pain.met is False
    assert "1 of" in str(pain.measured)


def test_custom_programs_have_no_readiness(prescription):
    assert phase_readiness(prescription) is None
