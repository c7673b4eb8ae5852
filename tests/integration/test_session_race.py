"""Two identical uploads racing on PostgreSQL store one session, and both get it back."""

import threading
import uuid

import pytest
from django.db import connection, transaction
from django.utils import timezone

from programs import services
from programs.models import ExerciseLog, SessionLog

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _upload(prescription, client_id):
    entries = [
        services.ExerciseEntry(prescribed_exercise_id=pk, sets_done=2, reps_done=10)
        for pk in prescription.exercises.values_list("pk", flat=True)
    ]
    return services.session_record(
        patient=prescription.patient,
        client_id=client_id,
        performed_at=timezone.now(),
        pain_after=2,
        entries=entries,
    )


def test_an_upload_racing_an_uncommitted_identical_one_returns_the_winner(prescription):
    client_id = uuid.uuid4()
    inserted, release = threading.Event(), threading.Event()
    results: dict[str, tuple] = {}

    def first():
        try:
            with transaction.atomic():
                results["first"] = _upload(prescription, client_id)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    def second():
        try:
            inserted.wait(10)
            results["second"] = _upload(prescription, client_id)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    inserted.wait(10)
    threads[1].join(1.0)
    # The second upload cannot see the uncommitted row, inserts, and waits on the unique key.
    assert threads[1].is_alive()
    release.set()
    for thread in threads:
        thread.join(10)

    (first_session, first_created) = results["first"]
    (second_session, second_created) = results["second"]
    assert (first_created, second_created) == (True, False)
    assert second_session.pk == first_session.pk
    assert SessionLog.objects.filter(client_id=client_id).count() == 1
    assert ExerciseLog.objects.filter(session=first_session).count() == 3


def test_many_concurrent_identical_uploads_store_one_session_each(prescription):
    client_ids = [uuid.uuid4() for _ in range(10)]
    barrier = threading.Barrier(4)
    outcomes: list[tuple[uuid.UUID, int, bool]] = []
    lock = threading.Lock()

    def worker():
        try:
            for client_id in client_ids:
                barrier.wait(10)
                session, created = _upload(prescription, client_id)
                with lock:
                    outcomes.append((client_id, session.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert len(outcomes) == 40
    assert SessionLog.objects.count() == 10
    for client_id in client_ids:
        mine = [(pk, created) for cid, pk, created in outcomes if cid == client_id]
        assert len({pk for pk, _ in mine}) == 1
        assert sum(created for _, created in mine) == 1
