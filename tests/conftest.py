import datetime as dt
import os
import shutil
import uuid

import pytest
from django.conf import settings

from tests import factories


def _service_missing(marker: str) -> str | None:
    if marker == "postgres" and not settings.USING_POSTGRES:
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if marker in {"redis", "celery_worker"} and not settings.REDIS_URL:
        return "needs Redis: set REDIS_URL=redis://..."
    if marker == "celery_worker" and not settings.USING_POSTGRES:
        return "needs PostgreSQL shared with the worker: set DATABASE_URL=postgres://..."
    if marker == "browser" and not shutil.which(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        return "needs Debian's chromium at /usr/bin/chromium"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Tests that need a real service skip locally without it, but fail in CI."""
    for marker in ("postgres", "redis", "celery_worker", "browser", "schema_fuzz"):
        if item.get_closest_marker(marker) is None:
            continue
        reason = _service_missing("postgres" if marker == "schema_fuzz" else marker)
        if reason:
            if os.environ.get("CI"):
                pytest.fail(f"CI is set and this test {reason}", pytrace=False)
            pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashers cost ~0.3 s a password by design; tests only need them to round-trip."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _cache_namespace_per_test(request, settings):
    """Each test sees an empty cache of its own: kept upload answers (clinic.answers) and
    throttle counts must not leak between tests, nor between xdist workers sharing one Redis
    (their databases hand out the same ids). A real worker process keeps the shared prefix."""
    if request.node.get_closest_marker("celery_worker"):
        return
    default = settings.CACHES["default"]
    settings.CACHES = {
        **settings.CACHES,
        "default": {**default, "KEY_PREFIX": f"{default.get('KEY_PREFIX', '')}:{uuid.uuid4().hex}"},
    }


@pytest.fixture
def clinic(db):
    return factories.ClinicFactory()


@pytest.fixture
def therapist(clinic):
    return factories.PractitionerFactory(clinic=clinic)


@pytest.fixture
def patient(clinic, therapist):
    return factories.create_patient(clinic=clinic, therapist=therapist)


@pytest.fixture
def exercises(db):
    return factories.ExerciseFactory.create_batch(3)


@pytest.fixture
def prescription(patient, therapist, exercises):
    """Started yesterday (the patient's local date): a session logged an hour or two ago is
    inside the program whatever the time of day (the patient lives in New York, so just after
    local midnight "an hour ago" is yesterday there)."""
    return factories.assign_custom_program(
        patient=patient,
        prescriber=therapist,
        exercises=exercises,
        start_date=patient.local_date() - dt.timedelta(days=1),
    )


@pytest.fixture(autouse=True)
def _celery_in_process(request):
    """Unit tests run tasks in-process; only `celery_worker` tests talk to a real worker."""
    from clinic.celery import app

    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def shipped_library(db):
    """The exercise library and protocols, as the data migration loads them.

    Transactional tests flush every table when they end, data-migration rows included; a later
    transactional test that needs the library loads it again (an idempotent upsert).
    """
    from programs import library, library_data, models

    library.library_sync(
        models={
            name: getattr(models, name)
            for name in ("Exercise", "Protocol", "ProtocolPhase", "ProtocolExercise")
        },
        exercises=library_data.EXERCISES,
        protocols=library_data.PROTOCOLS,
    )
