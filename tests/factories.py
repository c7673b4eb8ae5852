import datetime as dt
import uuid
from collections.abc import Sequence

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from clinic.cache_writes import AfterCommitWrites
from clinic.models import Clinic, Practitioner
from patients import services as patient_services
from patients.models import Patient
from programs import services as program_services
from programs.models import Exercise, Prescription, SessionLog

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class ClinicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Clinic

    name = factory.Sequence(lambda n: f"Clinic {n}")
    slug = factory.Sequence(lambda n: f"clinic-{n}")
    timezone = "America/New_York"


class PractitionerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Practitioner

    user = factory.SubFactory(UserFactory)
    clinic = factory.SubFactory(ClinicFactory)
    role = Practitioner.Role.THERAPIST


class ExerciseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Exercise

    slug = factory.Sequence(lambda n: f"exercise-{n}")
    name = factory.Sequence(lambda n: f"Exercise {n}")
    category = Exercise.Category.STRENGTH
    instructions = "Move slowly and stop if it hurts sharply."
    default_sets = 2
    default_reps = 10


def create_patient(
    *, clinic: Clinic, therapist: Practitioner, timezone_name: str | None = None, **fields
) -> Patient:
    values = {
        "first_name": "Alex",
        "last_name": "Morgan",
        "condition": "total_hip_replacement",
        "side": "left",
        "surgical_approach": "posterior",
        "email": "alex@example.org",
        **fields,
    }
    return patient_services.patient_create(
        clinic=clinic, therapist=therapist, timezone_name=timezone_name, **values
    )


def assign_custom_program(
    *,
    patient: Patient,
    prescriber: Practitioner,
    exercises: Sequence[Exercise],
    start_date: dt.date | None = None,
    sessions_per_week: int = 5,
) -> Prescription:
    return program_services.program_assign(
        patient=patient,
        prescriber=prescriber,
        exercises=[
            program_services.ExerciseChoice(exercise=exercise, sets=2, reps=10)
            for exercise in exercises
        ],
        start_date=start_date,
        sessions_per_week=sessions_per_week,
    )


def record_session(
    prescription: Prescription, *, days_ago: int = 0, **fields
) -> tuple[SessionLog, bool]:
    """`session_record` for the program's patient: a new client id, performed `days_ago` days
    before now; other arguments as given."""
    return program_services.session_record(
        patient=prescription.patient,
        client_id=uuid.uuid4(),
        performed_at=timezone.now() - dt.timedelta(days=days_ago),
        **fields,
    )


def task_callbacks(callbacks: Sequence[object]) -> list[object]:
    """The on-commit callbacks that are not batches of cache writes (`clinic.cache_writes`):
    the work a write enqueues, as tests count it."""
    return [c for c in callbacks if not isinstance(c, AfterCommitWrites)]
