import datetime as dt
import uuid

import pytest
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from clinic.inserts import insert_returning_pks, insert_unless_conflict, insert_with_children
from programs.models import ExerciseLog, SessionLog

pytestmark = pytest.mark.django_db


def stored(instance) -> dict:
    fresh = type(instance).objects.get(pk=instance.pk)
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


MOMENT = timezone.now() - dt.timedelta(minutes=5)


def new_session(prescription, **fields) -> SessionLog:
    performed_at = MOMENT
    values = {
        "prescription": prescription,
        "patient": prescription.patient,
        "client_id": uuid.uuid4(),
        "performed_at": performed_at,
        "local_date": prescription.patient.local_date(performed_at),
        "pain_before": 3,
        "pain_after": None,
        "notes": "Ünïcode, 'quotes' and %s",
        "created_at": MOMENT + dt.timedelta(seconds=1),
    }
    return SessionLog(**{**values, **fields})


def new_entries(session, prescription) -> list[ExerciseLog]:
    return [
        ExerciseLog(
            session=session,  # no key yet: copied once the session has one
            prescribed_exercise=exercise,
            sets_done=index,
            completed=index % 2 == 0,
            skipped_reason="" if index % 2 == 0 else "Too sore",
        )
        for index, exercise in enumerate(prescription.exercises.order_by("pk"))
    ]


def test_rows_are_stored_as_bulk_create_stores_them(prescription):
    ours, theirs = new_session(prescription), new_session(prescription)
    insert_returning_pks([ours])
    SessionLog.objects.bulk_create([theirs])
    our_entries, their_entries = new_entries(ours, prescription), new_entries(theirs, prescription)
    insert_returning_pks(our_entries)
    ExerciseLog.objects.bulk_create(their_entries)

    assert ours.pk is not None
    assert not ours._state.adding
    assert ours._state.db == "default"
    differs = {"id", "client_id"}
    ours_stored, theirs_stored = stored(ours), stored(theirs)
    assert {k: v for k, v in ours_stored.items() if k not in differs} == {
        k: v for k, v in theirs_stored.items() if k not in differs
    }
    assert ours_stored["client_id"] == ours.client_id
    assert len(our_entries) == 3
    for mine, reference in zip(our_entries, their_entries, strict=True):
        assert mine.pk is not None
        assert mine.session_id == ours.pk
        mine_stored, reference_stored = stored(mine), stored(reference)
        assert mine_stored.pop("session_id") == ours.pk
        assert reference_stored.pop("session_id") == theirs.pk
        mine_stored.pop("id"), reference_stored.pop("id")
        assert mine_stored == reference_stored
    assert [e.pk for e in our_entries] == sorted(e.pk for e in our_entries)


def test_a_constraint_violation_raises_django_s_integrity_error(prescription):
    first = new_session(prescription)
    insert_returning_pks([first])
    again = new_session(prescription, client_id=first.client_id)

    with pytest.raises(IntegrityError), transaction.atomic():
        insert_returning_pks([again])
    assert SessionLog.objects.filter(client_id=first.client_id).count() == 1


def test_nothing_to_insert_runs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_returning_pks([])


def test_insert_unless_conflict_inserts_a_new_row_as_the_plain_insert_does(prescription):
    ours, theirs = new_session(prescription), new_session(prescription)
    assert insert_unless_conflict(ours, ("patient", "client_id")) is True
    insert_returning_pks([theirs])
    assert ours.pk is not None
    assert not ours._state.adding
    mine_stored, reference_stored = stored(ours), stored(theirs)
    for key in ("id", "client_id"):
        mine_stored.pop(key), reference_stored.pop(key)
    assert mine_stored == reference_stored


def test_insert_unless_conflict_does_nothing_on_a_known_key_and_the_transaction_goes_on(
    prescription,
):
    first = new_session(prescription)
    insert_returning_pks([first])
    again = new_session(prescription, client_id=first.client_id, notes="the retry")

    with transaction.atomic(savepoint=False):
        assert insert_unless_conflict(again, ("patient", "client_id")) is False
        # No error was raised inside the transaction: it is still usable.
        assert SessionLog.objects.filter(client_id=first.client_id).count() == 1
    assert again.pk is None
    assert again._state.adding
    assert SessionLog.objects.get(client_id=first.client_id).notes == first.notes


def test_insert_unless_conflict_still_raises_on_another_constraint(prescription):
    session = new_session(prescription, pain_before=11)  # outside 0-10
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_unless_conflict(session, ("patient", "client_id"))
    assert not SessionLog.objects.filter(client_id=session.client_id).exists()


def test_a_parent_with_its_children_is_stored_as_the_plain_inserts_store_them(prescription):
    ours, theirs = new_session(prescription), new_session(prescription)
    our_entries, their_entries = new_entries(ours, prescription), new_entries(theirs, prescription)
    assert insert_with_children(ours, ("patient", "client_id"), our_entries) is True
    insert_returning_pks([theirs])
    insert_returning_pks(their_entries)

    mine_stored, reference_stored = stored(ours), stored(theirs)
    for key in ("id", "client_id"):
        mine_stored.pop(key), reference_stored.pop(key)
    assert mine_stored == reference_stored
    assert len(our_entries) == 3
    # Keys in the order given, each child linked to the parent in memory and in the table.
    assert [e.pk for e in our_entries] == sorted(e.pk for e in our_entries)
    for mine, reference in zip(our_entries, their_entries, strict=True):
        assert mine.session_id == ours.pk
        assert not mine._state.adding
        mine_row, reference_row = stored(mine), stored(reference)
        assert mine_row.pop("session_id") == ours.pk
        reference_row.pop("session_id")
        mine_row.pop("id"), reference_row.pop("id")
        assert mine_row == reference_row


def test_a_known_parent_key_inserts_neither_parent_nor_children(prescription):
    first = new_session(prescription)
    insert_with_children(first, ("patient", "client_id"), new_entries(first, prescription))
    again = new_session(prescription, client_id=first.client_id)
    entries = new_entries(again, prescription)

    with transaction.atomic(savepoint=False):
        assert insert_with_children(again, ("patient", "client_id"), entries) is False
        assert SessionLog.objects.filter(client_id=first.client_id).count() == 1
    assert again.pk is None
    assert all(entry.pk is None for entry in entries)
    assert ExerciseLog.objects.count() == 3


def test_without_children_it_inserts_the_parent_alone(prescription):
    session = new_session(prescription)
    assert insert_with_children(session, ("patient", "client_id"), []) is True
    assert SessionLog.objects.filter(pk=session.pk).exists()


@pytest.mark.postgres  # SQLite does not enforce a varchar's length
def test_a_child_value_too_long_for_its_column_is_refused_not_cut_short(prescription):
    session = new_session(prescription)
    entries = new_entries(session, prescription)
    entries[1].skipped_reason = "x" * 1000
    with pytest.raises(DatabaseError), transaction.atomic():
        insert_with_children(session, ("patient", "client_id"), entries)
    assert not SessionLog.objects.filter(client_id=session.client_id).exists()
    assert not ExerciseLog.objects.exists()


def test_a_model_the_statement_cannot_serve_takes_the_orm_s_way(prescription, monkeypatch):
    # A database default or generated key on the model (or a backend without multi-row
    # RETURNING): an insert in a savepoint, a conflict told by the stored row.
    monkeypatch.setattr("clinic.inserts._insertable", lambda model, using: False)
    first = new_session(prescription)
    assert insert_unless_conflict(first, ("patient", "client_id")) is True
    assert first.pk is not None
    again = new_session(prescription, client_id=first.client_id)
    assert insert_unless_conflict(again, ("patient", "client_id")) is False
    assert SessionLog.objects.filter(client_id=first.client_id).count() == 1
    entries = new_entries(new_session(prescription), prescription)
    parent = entries[0].session
    assert insert_with_children(parent, ("patient", "client_id"), entries) is True
    assert ExerciseLog.objects.filter(session=parent).count() == 3
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_unless_conflict(new_session(prescription, pain_before=11), ("patient", "client_id"))
