"""One patient's record as a FHIR R4 Bundle.

The Bundle is of type `collection`: a set of resources with no processing rules. A
`document` would need a Composition and the attestation that goes with a clinical document;
a `searchset` is the answer to a search; a `transaction` asks the receiver to write. An
export is none of these. Entries are addressed by `urn:uuid:` fullUrls and reference each
other that way, so the Bundle is self-contained.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django.utils import timezone

from patients.models import MeasureResponse, Patient
from programs.models import ExerciseLog, PrescribedExercise, Prescription, SessionLog

from . import mapping


@dataclass(frozen=True)
class PatientRecord:
    """Everything the export holds about one patient, loaded in a fixed number of queries."""

    patient: Patient
    prescriptions: list[Prescription]
    sessions: list[SessionLog]
    measures: list[MeasureResponse]


def patient_record(patient: Patient) -> PatientRecord:
    """The patient's programs, sessions (with exercise entries) and outcome measures.

    Six queries at most whatever the number of sessions, programs or responses.
    """
    prescriptions = list(
        Prescription.objects.filter(patient=patient)
        .select_related("protocol", "current_phase", "prescriber__user")
        .prefetch_related(
            Prefetch(
                "exercises",
                queryset=PrescribedExercise.objects.select_related("exercise").order_by(
                    "order", "id"
                ),
            )
        )
        .order_by("start_date", "id")
    )
    sessions = list(
        SessionLog.objects.filter(patient=patient)
        .prefetch_related(
            Prefetch(
                "entries",
                queryset=ExerciseLog.objects.select_related(
                    "prescribed_exercise__exercise"
                ).order_by("prescribed_exercise__order", "id"),
            )
        )
        .order_by("performed_at", "id")
    )
    measures = list(
        MeasureResponse.objects.filter(patient=patient)
        .select_related("recorded_by")
        .order_by("taken_at", "id")
    )
    return PatientRecord(
        patient=patient, prescriptions=prescriptions, sessions=sessions, measures=measures
    )


def _entry(resource: mapping.Resource) -> dict[str, Any]:
    return {"fullUrl": mapping.full_url(resource), "resource": resource}


def record_bundle(record: PatientRecord) -> dict[str, Any]:
    """The Bundle for an already loaded record (no queries)."""
    patient = record.patient
    clinic = patient.clinic
    resources = [
        mapping.patient_resource(patient, clinic),
        mapping.organization_resource(clinic),
    ]
    for prescription in record.prescriptions:
        resources.append(
            mapping.care_plan_resource(prescription, patient, prescription.exercises.all())
        )
        resources.append(mapping.service_request_resource(prescription, patient))
    resources.extend(
        mapping.session_observation(session, patient, session.entries.all())
        for session in record.sessions
    )
    for measure in record.measures:
        resources.append(mapping.questionnaire_response_resource(measure, patient))
        resources.append(mapping.score_observation(measure, patient))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": timezone.now().isoformat(),
        "entry": [_entry(resource) for resource in resources],
    }


def patient_bundle(patient: Patient) -> dict[str, Any]:
    """A FHIR R4 Bundle (type collection) of everything Stride holds about `patient`:
    Patient, Organization, per program a CarePlan and ServiceRequest, an Observation per
    session, a QuestionnaireResponse and a score Observation per outcome measure.

    A fixed number of queries (load `patient` with `select_related("clinic")` to save one).
    """
    return record_bundle(patient_record(patient))
