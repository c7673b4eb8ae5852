import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from programs.models import Exercise, Protocol
from tests.api.conftest import queries_outside_audit

EXERCISES = "/api/v1/exercises/"
PROTOCOLS = "/api/v1/protocols/"


@pytest.fixture(params=["therapist", "patient"])
def reader(request, auth_client):
    """The library is for clinic staff and for patients alike."""
    user = request.getfixturevalue(f"{request.param}_user")
    return auth_client(user)


def slugs(response):
    assert response.status_code == 200, response.data
    return [row["slug"] for row in response.data["results"]]


def all_slugs(client, url, params):
    found = []
    response = client.get(url, params)
    while True:
        found += slugs(response)
        if not response.data["next"]:
            return found
        response = client.get(response.data["next"])


def test_exercises_list_the_active_library_by_name(reader):
    Exercise.objects.filter(slug="bridges").update(is_active=False)

    found = all_slugs(reader, EXERCISES, {"page_size": 20})

    expected = list(
        Exercise.objects.filter(is_active=True)
        .order_by("name", "id")
        .values_list("slug", flat=True)
    )
    assert found == expected
    assert "bridges" not in found
    assert len(found) >= 40


def test_exercise_fields(reader):
    hinge = Exercise.objects.get(slug="hip-hinge")

    response = reader.get(f"{EXERCISES}{hinge.pk}/")

    assert response.status_code == 200
    assert response.data["precaution_tags"] == ["hip-flexion-over-90"]
    assert response.data["instructions"]
    assert {"default_sets", "default_reps", "default_hold_seconds", "cues"} <= set(response.data)


@pytest.mark.parametrize(
    ("params", "check"),
    [
        ({"category": "balance"}, lambda e: e.category == "balance"),
        (
            {"precaution": "hip-flexion-over-90"},
            lambda e: "hip-flexion-over-90" in e.precaution_tags,
        ),
        (
            {"without_precaution": ["hip-flexion-over-90", "high-impact"]},
            lambda e: not {"hip-flexion-over-90", "high-impact"} & set(e.precaution_tags),
        ),
        ({"search": "bridge"}, lambda e: "bridge" in e.name.lower() or "bridge" in e.slug),
    ],
)
def test_exercise_filters(reader, params, check):
    found = all_slugs(reader, EXERCISES, {**params, "page_size": 200})

    expected = [
        e.slug for e in Exercise.objects.filter(is_active=True).order_by("name", "id") if check(e)
    ]
    assert found == expected
    assert found  # the shipped library has some of each


def test_an_unknown_precaution_is_400(reader):
    response = reader.get(EXERCISES, {"precaution": "no-such-precaution"})

    assert response.status_code == 400
    assert "precaution" in response.data["errors"]


def test_protocols_list_and_filter(reader):
    everything = slugs(reader.get(PROTOCOLS))
    hips = slugs(reader.get(PROTOCOLS, {"condition": "total_hip_replacement"}))

    assert len(everything) == Protocol.objects.filter(is_active=True).count() >= 5
    assert hips == ["total-hip-replacement-posterior"]


def test_protocol_detail_has_phases_criteria_and_exercises_in_a_fixed_number_of_queries(reader):
    protocol = Protocol.objects.get(slug="total-hip-replacement-posterior")

    with CaptureQueriesContext(connection) as queries:
        response = reader.get(f"{PROTOCOLS}{protocol.pk}/")

    assert response.status_code == 200
    phases = response.data["phases"]
    assert [p["order"] for p in phases] == sorted(p["order"] for p in phases)
    assert len(phases) == protocol.phases.count() >= 3
    first = phases[0]
    assert "hip-flexion-over-90" in first["precaution_tags"]
    assert {"min_weeks", "max_pain", "min_adherence"} <= set(first["criteria"])
    assert first["exercises"][0]["exercise"]["slug"]
    # Auth (user, profile) + protocol + phases + phase exercises with their exercise.
    reads = [
        sql
        for sql in queries_outside_audit(queries.captured_queries)
        if sql.lstrip().upper().startswith("SELECT")
    ]
    assert len(reads) <= 6, reads


def test_anonymous_is_401_and_a_discharged_patient_is_403(api_client, auth_client, patient_user):
    Patient.objects.filter(user=patient_user).update(
        status="discharged", discharged_at="2025-01-01T00:00Z"
    )

    assert api_client.get(EXERCISES).status_code == 401
    assert auth_client(patient_user).get(PROTOCOLS).status_code == 403
