import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from fhir.resources.R4B import get_fhir_model_class

from api.fhir import codes, mapping
from api.fhir.bundle import patient_bundle
from api.fhir.views import PatientFhirView
from clinic.models import Practitioner
from patients import instruments
from patients.models import MeasureResponse, Patient
from programs import services as program_services
from programs.models import PrescribedExercise, Prescription, Protocol, SessionLog
from tests import factories

pytestmark = pytest.mark.django_db

THR = "total-hip-replacement-posterior"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
PAIN_LOINC = "72514-3"

HOOS_JR_ANSWERS = [  # six weeks apart: better on the second
    {"q1": 3, "q2": 2, "q3": 3, "q4": 3, "q5": 2, "q6": 2},
    {"q1": 1, "q2": 1, "q3": 1, "q4": 2, "q5": 0, "q6": 1},
]
PSFS_ANSWERS = {
    "activities": [
        {"name": "Climbing the stairs at home", "rating": 3},
        {"name": "Putting on socks", "rating": 2},
        {"name": "Walking the dog", "rating": 5},
    ]
}


def validate(resource: dict[str, Any]):
    """Parse and validate with the fhir.resources model of the resource's type."""
    return get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def resources_of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == resource_type
    ]


def by_full_url(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["fullUrl"]: entry["resource"] for entry in bundle["entry"]}


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(coding["system"], coding["code"]) for coding in concept["coding"]}


def references_in(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from references_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from references_in(item)


def session_observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        obs
        for obs in resources_of(bundle, "Observation")
        if obs.get("identifier", [{}])[0].get("system") == codes.SESSION_ID_SYSTEM
    ]


def score_observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [obs for obs in resources_of(bundle, "Observation") if "derivedFrom" in obs]


def component(observation: dict[str, Any], stride_code: str) -> dict[str, Any] | None:
    for item in observation.get("component", []):
        if (codes.SESSION_MEASURE_SYSTEM, stride_code) in codings(item["code"]):
            return item
    return None


# --- data -------------------------------------------------------------------------------------


@dataclass
class Seeded:
    patient: Patient
    prescription: Prescription
    removed: PrescribedExercise
    sessions: list[SessionLog]
    measures: list[MeasureResponse]


def add_sessions(prescription: Prescription, count: int, *, first: int = 0) -> list[SessionLog]:
    """`count` sessions, one a day going back from yesterday, each with exercise entries."""
    patient = prescription.patient
    active = list(prescription.exercises.filter(active=True).order_by("order", "id"))
    sessions = []
    for n in range(first, first + count):
        entries = [
            program_services.ExerciseEntry(
                prescribed_exercise_id=item.pk,
                sets_done=item.sets,
                reps_done=item.reps,
                hold_seconds_done=item.hold_seconds,
            )
            for item in active[1:]
        ]
        entries.insert(
            0,
            program_services.ExerciseEntry(
                prescribed_exercise_id=active[0].pk,
                completed=n % 3 != 0,
                sets_done=active[0].sets if n % 3 else 0,
                reps_done=active[0].reps if n % 3 else 0,
                skipped_reason="" if n % 3 else "Too sore today",
            ),
        )
        session, created = program_services.session_record(
            patient=patient,
            client_id=uuid.UUID(int=n + 1),
            performed_at=timezone.now() - dt.timedelta(days=n + 1, hours=2),
            prescription_id=prescription.pk,
            pain_before=2 + n % 5,
            pain_after=1 + n % 5,
            difficulty=4 + n % 3,
            duration_minutes=20 + n % 15,
            notes="Felt stiff in the morning." if n == 0 else "",
            entries=entries,
        )
        assert created
        sessions.append(session)
    return sessions


@pytest.fixture
def fhir_patient(clinic, therapist) -> Patient:
    return factories.create_patient(
        clinic=clinic,
        therapist=therapist,
        first_name="Robin",
        last_name="Okafor",
        email="robin@example.org",
        phone="+1 555 0100",
        date_of_birth=dt.date(1958, 3, 14),
    )


@pytest.fixture
def seeded(fhir_patient, therapist) -> Seeded:
    """A protocol program, ten sessions with entries plus one without scores, two HOOS JR
    responses (one entered by the therapist) and a PSFS response."""
    prescription = program_services.program_assign(
        patient=fhir_patient,
        prescriber=therapist,
        protocol=Protocol.objects.get(slug=THR),
        start_date=fhir_patient.local_date() - dt.timedelta(days=90),
    )
    removed = prescription.exercises.order_by("-order", "-id").first()
    program_services.prescription_remove_exercise(prescribed_exercise=removed)
    sessions = add_sessions(prescription, 10)
    bare, _ = program_services.session_record(
        patient=fhir_patient,
        client_id=uuid.uuid4(),
        performed_at=timezone.now() - dt.timedelta(hours=1),
        prescription_id=prescription.pk,
    )
    sessions.append(bare)
    now = timezone.now()
    measures = [
        program_services.measure_submit(
            patient=fhir_patient,
            instrument="hoos_jr",
            answers=HOOS_JR_ANSWERS[0],
            taken_at=now - dt.timedelta(days=60),
            recorded_by=therapist.user,
        )[0],
        program_services.measure_submit(
            patient=fhir_patient,
            instrument="hoos_jr",
            answers=HOOS_JR_ANSWERS[1],
            taken_at=now - dt.timedelta(days=18),
        )[0],
        program_services.measure_submit(
            patient=fhir_patient,
            instrument="psfs",
            answers=PSFS_ANSWERS,
            taken_at=now - dt.timedelta(days=18),
        )[0],
    ]
    return Seeded(fhir_patient, prescription, removed, sessions, measures)


@pytest.fixture
def bundle(seeded) -> dict[str, Any]:
    return patient_bundle(seeded.patient)


# --- the bundle ---------------------------------------------------------------------------


def test_every_resource_and_the_bundle_itself_validate_as_fhir(bundle):
    for entry in bundle["entry"]:
        parsed = validate(entry["resource"])
        assert parsed.get_resource_type() == entry["resource"]["resourceType"]
    parsed_bundle = validate(bundle)
    assert parsed_bundle.type == "collection"
    assert len(parsed_bundle.entry) == len(bundle["entry"])


def test_the_bundle_holds_one_resource_per_record(seeded, bundle):
    kinds = Counter(entry["resource"]["resourceType"] for entry in bundle["entry"])
    assert kinds == {
        "Patient": 1,
        "Organization": 1,
        "CarePlan": 1,
        "ServiceRequest": 1,
        "Observation": len(seeded.sessions) + len(seeded.measures),
        "QuestionnaireResponse": len(seeded.measures),
    }
    assert len(session_observations(bundle)) == len(seeded.sessions)
    assert len(score_observations(bundle)) == len(seeded.measures)


def test_entries_are_urn_uuids_and_every_reference_resolves_inside_the_bundle(bundle):
    full_urls = by_full_url(bundle)
    assert len(full_urls) == len(bundle["entry"])
    for url, resource in full_urls.items():
        assert url == f"urn:uuid:{uuid.UUID(resource['id'])}"
    references = list(references_in([entry["resource"] for entry in bundle["entry"]]))
    assert references
    assert set(references) <= set(full_urls)


def test_exporting_twice_gives_the_same_resources(seeded, bundle):
    again = patient_bundle(Patient.objects.get(pk=seeded.patient.pk))
    assert again["entry"] == bundle["entry"]


# --- resources ----------------------------------------------------------------------------


def test_patient_has_a_stride_identifier_and_its_clinic_as_managing_organization(
    seeded, bundle, clinic
):
    (patient,) = resources_of(bundle, "Patient")
    assert patient["identifier"] == [
        {
            "use": "usual",
            "system": "https://stride.example/fhir/patient-id",
            "value": str(seeded.patient.pk),
        }
    ]
    assert patient["name"] == [
        {"use": "official", "text": "Robin Okafor", "family": "Okafor", "given": ["Robin"]}
    ]
    assert patient["birthDate"] == "1958-03-14"
    assert patient["gender"] == "unknown"
    assert {"system": "email", "value": "robin@example.org"} in patient["telecom"]
    assert {"system": "phone", "value": "+1 555 0100"} in patient["telecom"]
    organization = by_full_url(bundle)[patient["managingOrganization"]["reference"]]
    assert organization["resourceType"] == "Organization"
    assert organization["name"] == clinic.name


def test_a_record_stripped_of_personal_fields_still_validates(clinic, therapist):
    """An erased patient is a stub without names or contact details; FHIR forbids empty
    strings, so those elements are left out rather than exported blank."""
    patient = factories.create_patient(clinic=clinic, therapist=therapist)
    Patient.objects.filter(pk=patient.pk).update(first_name="", last_name="", email="")
    patient.refresh_from_db()
    bundle = patient_bundle(patient)
    (resource,) = resources_of(bundle, "Patient")
    validate(resource)
    assert "name" not in resource
    assert "telecom" not in resource
    assert "birthDate" not in resource
    validate(bundle)


def test_the_program_is_a_care_plan_with_an_activity_per_prescribed_exercise(seeded, bundle):
    (care_plan,) = resources_of(bundle, "CarePlan")
    prescription = seeded.prescription
    assert care_plan["status"] == "active"
    assert care_plan["intent"] == "plan"
    assert care_plan["title"] == prescription.name
    assert care_plan["period"] == {"start": prescription.start_date.isoformat()}
    assert care_plan["category"][0]["text"] == "Home exercise program"
    assert by_full_url(bundle)[care_plan["subject"]["reference"]]["resourceType"] == "Patient"

    first, *exercise_activities = care_plan["activity"]
    service_request = by_full_url(bundle)[first["reference"]["reference"]]
    assert service_request["resourceType"] == "ServiceRequest"
    # cpl-3: an activity gives a reference or a detail, never both.
    assert all("reference" not in activity for activity in exercise_activities)

    prescribed = list(prescription.exercises.select_related("exercise").order_by("order", "id"))
    assert len(exercise_activities) == len(prescribed)
    for activity, item in zip(exercise_activities, prescribed, strict=True):
        detail = activity["detail"]
        assert detail["kind"] == "ServiceRequest"
        assert (codes.EXERCISE_SYSTEM, item.exercise.slug) in codings(detail["code"])
        assert detail["code"]["text"] == item.exercise.name
        assert detail["description"].startswith(f"{item.sets} × {item.reps}")
        repeat = detail["scheduledTiming"]["repeat"]
        assert (repeat["frequency"], repeat["period"], repeat["periodUnit"]) == (
            prescription.sessions_per_week,
            1,
            "wk",
        )
        if item.pk == seeded.removed.pk:
            assert detail["status"] == "stopped"
            assert "end" in repeat["boundsPeriod"]
        else:
            assert detail["status"] == "in-progress"
            assert "end" not in repeat["boundsPeriod"]


@pytest.mark.parametrize(
    ("change", "care_plan_status", "activity_status"),
    [("pause", "on-hold", "on-hold"), ("complete", "completed", "completed")],
)
def test_the_care_plan_status_follows_the_program(
    seeded, change, care_plan_status, activity_status
):
    if change == "pause":
        program_services.program_pause(prescription=seeded.prescription)
    else:
        program_services.program_complete(prescription=seeded.prescription)
    bundle = patient_bundle(seeded.patient)
    (care_plan,) = resources_of(bundle, "CarePlan")
    (service_request,) = resources_of(bundle, "ServiceRequest")
    validate(care_plan)
    assert care_plan["status"] == care_plan_status
    assert service_request["status"] == care_plan_status
    live = [a["detail"] for a in care_plan["activity"][1:] if a["detail"]["status"] != "stopped"]
    assert live
    assert {detail["status"] for detail in live} == {activity_status}
    if change == "complete":
        seeded.prescription.refresh_from_db()
        assert care_plan["period"]["end"] == seeded.prescription.completed_on.isoformat()


def test_the_service_request_orders_exercise_therapy_in_snomed_ct(seeded, bundle):
    (service_request,) = resources_of(bundle, "ServiceRequest")
    assert service_request["code"]["coding"] == [
        {"system": SNOMED, "code": "229065009", "display": "Exercise therapy (regime/therapy)"}
    ]
    assert service_request["intent"] == "order"
    assert service_request["status"] == "active"
    assert service_request["occurrenceTiming"]["repeat"]["frequency"] == (
        seeded.prescription.sessions_per_week
    )


def test_each_session_is_an_observation_of_pain_before_and_after_based_on_the_care_plan(
    seeded, bundle
):
    (care_plan,) = resources_of(bundle, "CarePlan")
    care_plan_url = f"urn:uuid:{care_plan['id']}"
    observations = {obs["identifier"][0]["value"]: obs for obs in session_observations(bundle)}
    for session in seeded.sessions[:-1]:
        observation = observations[str(session.pk)]
        assert observation["status"] == "final"
        assert (LOINC, PAIN_LOINC) in codings(observation["code"])
        assert {"reference": care_plan_url} in observation["basedOn"]
        assert {c["coding"][0]["code"] for c in observation["category"]} == {"therapy", "survey"}
        effective = dt.datetime.fromisoformat(observation["effectiveDateTime"])
        assert effective == session.performed_at
        assert (
            effective.utcoffset()
            == session.performed_at.astimezone(seeded.patient.tzinfo).utcoffset()
        )

        pains = {"pain-before": session.pain_before, "pain-after": session.pain_after}
        for stride_code, value in pains.items():
            pain = component(observation, stride_code)
            assert (LOINC, PAIN_LOINC) in codings(pain["code"])
            assert pain["code"]["text"]
            assert pain["valueQuantity"] == {
                "value": value,
                "unit": "{score}",
                "system": UCUM,
                "code": "{score}",
            }
        difficulty = component(observation, "difficulty")
        assert difficulty["valueQuantity"]["value"] == session.difficulty
        assert (difficulty["valueQuantity"]["system"], difficulty["valueQuantity"]["code"]) == (
            UCUM,
            "{score}",
        )
        duration = component(observation, "duration")
        assert (LOINC, "55411-3") in codings(duration["code"])
        assert duration["valueQuantity"] == {
            "value": session.duration_minutes,
            "unit": "min",
            "system": UCUM,
            "code": "min",
        }
        done = [
            c for c in observation["component"] if "valueString" in c and "valueQuantity" not in c
        ]
        assert len(done) == session.entries.count()


def test_exercise_entries_say_what_was_done_or_skipped(seeded, bundle):
    skipped_session = seeded.sessions[0]  # n = 0: the first exercise was skipped
    observation = next(
        obs
        for obs in session_observations(bundle)
        if obs["identifier"][0]["value"] == str(skipped_session.pk)
    )
    entries = [c["valueString"] for c in observation["component"] if "valueString" in c]
    assert entries[0] == "Skipped: Too sore today"
    assert all(text.startswith("Done") for text in entries[1:])
    assert observation["note"] == [{"text": "Felt stiff in the morning."}]


def test_a_session_without_scores_has_no_score_components(seeded, bundle):
    bare = seeded.sessions[-1]
    observation = next(
        obs for obs in session_observations(bundle) if obs["identifier"][0]["value"] == str(bare.pk)
    )
    validate(observation)
    assert "component" not in observation


def test_each_outcome_measure_is_a_questionnaire_response_with_a_score_observation(seeded, bundle):
    responses = {r["identifier"]["value"]: r for r in resources_of(bundle, "QuestionnaireResponse")}
    scores = {obs["derivedFrom"][0]["reference"]: obs for obs in score_observations(bundle)}
    assert len(responses) == len(scores) == len(seeded.measures)
    hoos_jr_scores = []
    for measure in seeded.measures:
        response = responses[str(measure.pk)]
        assert response["status"] == "completed"
        assert response["questionnaire"] == (
            f"https://stride.example/fhir/Questionnaire/{measure.instrument}|1.0"
        )
        score = scores[f"urn:uuid:{response['id']}"]
        assert score["status"] == "final"
        assert (codes.OUTCOME_MEASURE_SYSTEM, measure.instrument) in codings(score["code"])
        expected = instruments.score(measure.instrument, measure.answers).score
        assert score["valueQuantity"] == {
            "value": pytest.approx(expected),
            "unit": "{score}",
            "system": UCUM,
            "code": "{score}",
        }
        if measure.instrument == "hoos_jr":
            hoos_jr_scores.append(score["valueQuantity"]["value"])
            assert (LOINC, "82323-7") in codings(score["code"])
            assert [item["linkId"] for item in response["item"]] == [
                "q1", "q2", "q3", "q4", "q5", "q6"
            ]  # fmt: skip
            assert {item["linkId"]: item["answer"] for item in response["item"]} == {
                key: [{"valueInteger": value}] for key, value in measure.answers.items()
            }
    assert hoos_jr_scores == sorted(hoos_jr_scores)  # the second response is the better one


def test_a_response_entered_by_the_therapist_names_them_as_author(seeded, bundle, therapist):
    by_pk = {r["identifier"]["value"]: r for r in resources_of(bundle, "QuestionnaireResponse")}
    entered = by_pk[str(seeded.measures[0].pk)]
    own = by_pk[str(seeded.measures[1].pk)]
    assert entered["author"] == {"display": therapist.display_name}
    assert own["author"]["reference"] == own["subject"]["reference"]


def test_psfs_activities_are_a_repeating_group_with_the_name_and_rating(seeded, bundle):
    psfs = next(
        r
        for r in resources_of(bundle, "QuestionnaireResponse")
        if r["questionnaire"].startswith("https://stride.example/fhir/Questionnaire/psfs|")
    )
    groups = psfs["item"]
    assert [group["linkId"] for group in groups] == ["activities"] * 3
    for group, activity in zip(groups, PSFS_ANSWERS["activities"], strict=True):
        name, rating = group["item"]
        assert name["answer"] == [{"valueString": activity["name"]}]
        assert rating["answer"] == [{"valueInteger": activity["rating"]}]


@pytest.mark.parametrize(
    ("dosage", "text"),
    [
        ((3, 10, 5, True), "3 × 10, hold 5 s, each side"),
        ((2, 15, 0, False), "2 × 15"),
        ((1, 1, 600, False), "1 × 1, hold 10 min"),
        ((1, 3, 90, False), "1 × 3, hold 90 s"),
    ],
)
def test_dosage_text(dosage, text):
    assert mapping.dosage_text(*dosage) == text


# --- the endpoint -------------------------------------------------------------------------


def fhir_url(patient: Patient) -> str:
    return reverse("api-v1:patient-fhir", kwargs={"pk": patient.pk})


@pytest.mark.parametrize("role", [Practitioner.Role.THERAPIST, Practitioner.Role.ADMIN])
def test_clinic_staff_get_the_bundle_as_fhir_json(seeded, auth_client, clinic, role):
    staff = factories.PractitionerFactory(clinic=clinic, role=role)
    response = auth_client(staff.user).get(fhir_url(seeded.patient))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    body = response.json()
    validate(body)
    assert body["type"] == "collection"
    assert body["entry"] == patient_bundle(seeded.patient)["entry"]


def test_plain_json_is_served_to_a_client_that_asks_for_it(seeded, auth_client, therapist):
    response = auth_client(therapist.user).get(
        fhir_url(seeded.patient), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json()["resourceType"] == "Bundle"


def test_another_clinics_therapist_gets_404(seeded, auth_client, other_clinic_therapist_user):
    response = auth_client(other_clinic_therapist_user).get(fhir_url(seeded.patient))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["type"] == "not_found"


def test_an_unknown_patient_is_404(auth_client, therapist):
    response = auth_client(therapist.user).get(
        reverse("api-v1:patient-fhir", kwargs={"pk": 999_999})
    )
    assert response.status_code == 404


def test_a_patient_account_gets_403_even_for_their_own_record(patient, patient_user, auth_client):
    response = auth_client(patient_user).get(fhir_url(patient))
    assert response.status_code == 403
    assert response.json()["type"] == "permission_denied"


def test_anonymous_callers_get_401(seeded, api_client):
    response = api_client.get(fhir_url(seeded.patient), HTTP_ACCEPT="application/fhir+json")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["type"] == "not_authenticated"


def test_export_queries_do_not_grow_with_sessions(
    seeded, auth_client, therapist, django_assert_max_num_queries
):
    client = auth_client(therapist.user)
    with CaptureQueriesContext(connection) as with_ten:
        assert client.get(fhir_url(seeded.patient)).status_code == 200
    add_sessions(seeded.prescription, 50, first=len(seeded.sessions))
    assert seeded.patient.sessions.count() == 61
    with django_assert_max_num_queries(len(with_ten.captured_queries)):
        response = client.get(fhir_url(seeded.patient))
    assert len(session_observations(response.json())) == 61


def test_the_openapi_schema_documents_the_export():
    generator = SchemaGenerator(
        patterns=[path("api/v1/patients/<int:pk>/fhir/", PatientFhirView.as_view())]
    )
    schema = generator.get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/patients/{id}/fhir/"]["get"]
    responses = operation["responses"]
    assert set(responses["200"]["content"]) == {"application/fhir+json", "application/json"}
    for status in ("401", "403", "404"):
        assert set(responses[status]["content"]) == {"application/json"}
        assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    (patient_id,) = [p for p in operation["parameters"] if p["in"] == "path"]
    assert (patient_id["name"], patient_id["schema"]["type"]) == ("id", "integer")
