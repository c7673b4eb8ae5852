"""Serializers whose plain fields are copied, not rebuilt, validate exactly as DRF's do."""

import copy
import uuid

import pytest
from rest_framework import serializers

from api.v1.patient_serializers import (
    EXERCISES_PER_SESSION_MAX,
    ExerciseEntryInputSerializer,
    SessionInputSerializer,
)


def rebuilt(serializer_class):
    """The same serializer with DRF's own field handling (deep copies of declared fields)."""

    class Entry(serializers.Serializer):
        def get_fields(self):
            return copy.deepcopy(self._declared_fields)

    Entry._declared_fields = {
        **ExerciseEntryInputSerializer._declared_fields,
    }

    class Session(serializers.Serializer):
        def get_fields(self):
            return copy.deepcopy(self._declared_fields)

    Session._declared_fields = {
        **SessionInputSerializer._declared_fields,
        "exercises": Entry(many=True, required=False, max_length=EXERCISES_PER_SESSION_MAX),
    }
    return Session if serializer_class is SessionInputSerializer else Entry


def entry(**fields):
    return {"prescribed_exercise": 7, "sets_done": 2, "reps_done": 10, **fields}


def body(**fields):
    return {
        "client_id": str(uuid.uuid4()),
        "performed_at": "2026-03-01T18:30:00+01:00",
        "pain_before": 3,
        "pain_after": 2,
        "exercises": [entry(), entry(prescribed_exercise=8, completed=False)],
        **fields,
    }


CASES = [
    body(),
    body(notes="", difficulty=None, duration_minutes=30),
    body(pain_after=11, difficulty=-1),
    body(client_id="not-a-uuid", performed_at="2026-03-01T18:30:00"),
    body(exercises=[entry(sets_done=101), entry(reps_done="x"), {"completed": True}]),
    body(exercises="nope"),
    {},
]


def assert_session_validates_as_drf(data) -> None:
    """The upload's serializer and DRF's own handling agree on `data`: validity, errors and
    validated data."""
    ours = SessionInputSerializer(data=data)
    theirs = rebuilt(SessionInputSerializer)(data=data)
    assert ours.is_valid() == theirs.is_valid()
    assert ours.errors == theirs.errors
    if not ours.errors:
        assert ours.validated_data == theirs.validated_data


@pytest.mark.parametrize("data", CASES)
def test_same_validated_data_and_errors_as_drf(data):
    assert_session_validates_as_drf(data)


def test_the_cases_hold_valid_and_invalid_bodies():
    outcomes = [SessionInputSerializer(data=data).is_valid() for data in CASES]
    assert outcomes.count(True) == 2


def test_each_serializer_has_its_own_fields_bound_to_it():
    first, second = SessionInputSerializer(data=body()), SessionInputSerializer(data=body())
    for name in ("client_id", "pain_after", "notes"):
        assert first.fields[name] is not second.fields[name]
        assert first.fields[name].parent is first
        assert second.fields[name].root is second
        assert first.fields[name].validators is not second.fields[name].validators
        declared = SessionInputSerializer._declared_fields[name]
        assert first.fields[name].validators is not declared.validators
    entries = first.fields["exercises"]
    assert entries is not SessionInputSerializer._declared_fields["exercises"]
    assert entries.child.fields["sets_done"].root is first
    # The declared prototypes are never bound.
    assert SessionInputSerializer._declared_fields["pain_after"].field_name is None
    assert len(first.fields["pain_after"].validators) == 2  # min and max, not accumulated
