import datetime as dt
import io

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db.models import Max, Min
from django.test import RequestFactory

from clinic.models import Clinic, Practitioner
from patients.models import CheckIn, MeasureResponse, Patient
from programs.models import Alert, ExerciseLog, Prescription, SessionLog

pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 3, 14)
MODELS = (
    Clinic,
    Practitioner,
    get_user_model(),
    Patient,
    Prescription,
    SessionLog,
    ExerciseLog,
    Alert,
    CheckIn,
    MeasureResponse,
)


def seed(today: dt.date = TODAY, **options) -> str:
    out = io.StringIO()
    call_command("seed_demo", today=today, stdout=out, **options)
    return out.getvalue()


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def test_seeding_twice_creates_nothing_new_and_tells_every_story():
    seed()
    first = row_counts()
    output = seed()
    assert row_counts() == first
    assert "stride-demo" in output
    assert "http://127.0.0.1:8000/" in output

    riverside = Clinic.objects.get(slug="riverside-physio")
    patients = Patient.objects.filter(clinic=riverside)
    assert 28 <= patients.count() <= 32
    assert Patient.objects.filter(clinic__slug="harbor-rehab").count() == 2
    assert set(patients.values_list("timezone", flat=True)) == {
        "America/New_York",
        "America/Los_Angeles",
        "Europe/London",
    }
    open_alerts = Alert.objects.filter(acknowledged_at__isnull=True)
    assert open_alerts.filter(kind="red_flag", severity="urgent").exists()
    spike = open_alerts.get(kind="pain_spike")
    assert spike.details["pain_after"] == 8
    assert patients.filter(status=Patient.Status.DISCHARGED).count() == 1
    assert Prescription.objects.filter(status=Prescription.Status.PAUSED).count() == 1
    assert Prescription.objects.filter(current_phase__order__gt=1).count() >= 10
    assert patients.filter(sessions__isnull=True).count() >= 3  # new patients

    sessions = SessionLog.objects.filter(patient__clinic=riverside)
    span = sessions.aggregate(first=Min("local_date"), last=Max("local_date"))
    assert span["first"] <= TODAY - dt.timedelta(weeks=11)
    assert span["last"] >= TODAY - dt.timedelta(days=1)
    assert 500 <= sessions.count() <= 2000
    assert ExerciseLog.objects.filter(completed=False).exclude(skipped_reason="").exists()
    assert MeasureResponse.objects.filter(instrument="hoos_jr").exists()
    assert MeasureResponse.objects.filter(instrument="koos_jr").exists()


def test_inactive_and_fading_patients_show_in_recent_weeks():
    seed()
    recent = TODAY - dt.timedelta(days=10)
    inactive = Patient.objects.get(first_name="Judith", last_name="Abernathy")
    assert inactive.sessions.exists()
    assert not inactive.sessions.filter(local_date__gt=recent).exists()

    fading = Patient.objects.get(first_name="Rosa", last_name="Delgado")
    start = fading.prescriptions.get().start_date
    first_weeks = fading.sessions.filter(local_date__lt=start + dt.timedelta(weeks=3)).count()
    last_weeks = fading.sessions.filter(local_date__gt=TODAY - dt.timedelta(weeks=3)).count()
    assert last_weeks < first_weeks / 2


def test_demo_logins_authenticate():
    seed(patients=2)
    request = RequestFactory().post("/accounts/login/")
    for username in ("therapist", "therapist2", "clinicadmin", "admin", "patient"):
        user = authenticate(request, username=username, password="stride-demo")
        assert user is not None, username
    user_model = get_user_model()
    assert user_model.objects.get(username="clinicadmin").practitioner.is_admin
    assert user_model.objects.get(username="clinicadmin").is_staff
    assert user_model.objects.get(username="admin").is_superuser
    assert Patient.objects.get(user__username="patient").invite_code is None
    assert Patient.objects.filter(clinic__slug="riverside-physio").count() == 2


def test_a_future_today_is_refused():
    with pytest.raises(CommandError, match="future"):
        seed(today=dt.date(2999, 1, 1))
