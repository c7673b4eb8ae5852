"""Stride records as FHIR R4 resources (plain dicts, ready for JSON).

Pure functions: they read the instances they are given (and the relations the caller loaded
with them) and never query. `api.fhir.bundle` gathers the data and assembles the Bundle.

Every resource gets a deterministic id, a UUID5 of its kind and database id, so exporting
the same record twice gives the same ids and references (`urn:uuid:<id>` in a Bundle).
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from clinic.models import Clinic
from patients import instruments
from patients.models import Condition, MeasureResponse, Patient
from programs.models import ExerciseLog, PrescribedExercise, Prescription, SessionLog

from .codes import (
    CARE_PLAN_CATEGORY_SYSTEM,
    CLINIC_ID_SYSTEM,
    EXERCISE_DURATION,
    EXERCISE_SYSTEM,
    EXERCISE_THERAPY,
    MEASURE_RESPONSE_ID_SYSTEM,
    OBSERVATION_CATEGORY,
    OUTCOME_MEASURE_SYSTEM,
    OUTCOME_SCORE_LOINC,
    PAIN_SEVERITY,
    PATIENT_ID_SYSTEM,
    PRESCRIPTION_ID_SYSTEM,
    PROTOCOL_URI_BASE,
    QUESTIONNAIRE_URL_BASE,
    SESSION_ID_SYSTEM,
    SESSION_MEASURE_SYSTEM,
    UCUM,
    UUID_NAMESPACE,
)

Resource = dict[str, Any]


CARE_PLAN_STATUS = {
    Prescription.Status.ACTIVE: "active",
    Prescription.Status.PAUSED: "on-hold",
    Prescription.Status.COMPLETED: "completed",
}
SERVICE_REQUEST_STATUS = CARE_PLAN_STATUS
ACTIVITY_STATUS = {
    Prescription.Status.ACTIVE: "in-progress",
    Prescription.Status.PAUSED: "on-hold",
    Prescription.Status.COMPLETED: "completed",
}


# --- ids and references -------------------------------------------------------------------


def resource_id(kind: str, pk: int) -> str:
    """Deterministic id of the resource of `kind` made from the database row `pk`."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{kind}/{pk}"))


def full_url(resource: Resource) -> str:
    return f"urn:uuid:{resource['id']}"


def reference(kind: str, pk: int, display: str = "") -> dict[str, str]:
    ref = {"reference": f"urn:uuid:{resource_id(kind, pk)}"}
    if display:
        ref["display"] = display
    return ref


# The kinds are the resource type, and a qualifier where one row yields several resources of
# one type (a measure response gives a QuestionnaireResponse and a score Observation).
ORGANIZATION = "Organization"
PATIENT = "Patient"
CARE_PLAN = "CarePlan"
SERVICE_REQUEST = "ServiceRequest"
SESSION_OBSERVATION = "Observation/session"
QUESTIONNAIRE_RESPONSE = "QuestionnaireResponse"
SCORE_OBSERVATION = "Observation/measure-score"


# --- value helpers ------------------------------------------------------------------------


def _datetime(value: dt.datetime, tz: dt.tzinfo) -> str:
    """An aware datetime as FHIR dateTime/instant, in the patient's local offset."""
    return value.astimezone(tz).isoformat()


def _score_quantity(value: int | float | Decimal) -> dict[str, Any]:
    number = int(value) if isinstance(value, int) else float(value)
    return {"value": number, "unit": "{score}", "system": UCUM, "code": "{score}"}


def _minutes_quantity(value: int) -> dict[str, Any]:
    return {"value": value, "unit": "min", "system": UCUM, "code": "min"}


def _category(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": OBSERVATION_CATEGORY, "code": code, "display": display}]}


def _duration_text(seconds: int) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def dosage_text(sets: int, reps: int, hold_seconds: int = 0, per_side: bool = False) -> str:
    """`3 × 10, hold 5 s, each side`; timed exercises keep their duration in the hold."""
    parts = [f"{sets} × {reps}"]
    if hold_seconds:
        parts.append(f"hold {_duration_text(hold_seconds)}")
    if per_side:
        parts.append("each side")
    return ", ".join(parts)


def _exercise_code(slug: str, name: str) -> dict[str, Any]:
    return {"coding": [{"system": EXERCISE_SYSTEM, "code": slug, "display": name}], "text": name}


# --- resources ------------------------------------------------------------------------------


def organization_resource(clinic: Clinic) -> Resource:
    return {
        "resourceType": "Organization",
        "id": resource_id(ORGANIZATION, clinic.pk),
        "identifier": [{"system": CLINIC_ID_SYSTEM, "value": clinic.slug}],
        "active": True,
        "name": clinic.name,
    }


def patient_resource(patient: Patient, clinic: Clinic) -> Resource:
    resource: Resource = {
        "resourceType": "Patient",
        "id": resource_id(PATIENT, patient.pk),
        "identifier": [{"use": "usual", "system": PATIENT_ID_SYSTEM, "value": str(patient.pk)}],
        "active": patient.status == Patient.Status.ACTIVE,
        # Stride does not record sex or gender.
        "gender": "unknown",
        "managingOrganization": reference(ORGANIZATION, clinic.pk, clinic.name),
    }
    if patient.full_name:  # FHIR strings may not be empty (an erased record has no name)
        name: dict[str, Any] = {"use": "official", "text": patient.full_name}
        if patient.last_name:
            name["family"] = patient.last_name
        if patient.first_name:
            name["given"] = [patient.first_name]
        resource["name"] = [name]
    telecom = []
    if patient.phone:
        telecom.append({"system": "phone", "value": patient.phone})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    if patient.date_of_birth:
        resource["birthDate"] = patient.date_of_birth.isoformat()
    return resource


def _reason_text(patient: Patient) -> str:
    text = dict(Condition.choices).get(patient.condition, patient.condition)
    side = dict(Patient.Side.choices).get(patient.side, patient.side)
    if text and side:
        text += f" ({side.lower()})"
    return text


def _plan_description(prescription: Prescription, patient: Patient) -> str:
    parts = []
    if prescription.protocol is not None:
        parts.append(f"Protocol: {prescription.protocol.name}")
    if prescription.current_phase is not None:
        parts.append(f"current phase: {prescription.current_phase.name}")
    parts.append(f"{prescription.sessions_per_week} sessions a week")
    if reason := _reason_text(patient):
        parts.append(f"for {reason}")
    return "; ".join(parts) + "."


def _weekly_timing(prescription: Prescription, start: str, end: str | None) -> dict[str, Any]:
    bounds = {"start": start}
    if end is not None:
        bounds["end"] = end
    return {
        "repeat": {
            "boundsPeriod": bounds,
            "frequency": prescription.sessions_per_week,
            "period": 1,
            "periodUnit": "wk",
        }
    }


def _plan_end(prescription: Prescription) -> dt.date | None:
    if prescription.status == Prescription.Status.COMPLETED:
        return prescription.completed_on
    return None


def _exercise_activity(
    prescription: Prescription, prescribed: PrescribedExercise, tz: dt.tzinfo
) -> dict[str, Any]:
    exercise = prescribed.exercise
    description = dosage_text(
        prescribed.sets, prescribed.reps, prescribed.hold_seconds, exercise.per_side
    )
    if prescribed.notes:
        description += f". {prescribed.notes}"
    removed_at = prescribed.removed_at
    timing = _weekly_timing(
        prescription,
        _datetime(prescribed.added_at, tz),
        _datetime(removed_at, tz) if removed_at is not None else None,
    )
    return {
        "detail": {
            "kind": "ServiceRequest",
            "code": _exercise_code(exercise.slug, exercise.name),
            "status": ACTIVITY_STATUS[prescription.status] if prescribed.active else "stopped",
            "scheduledTiming": timing,
            "description": description,
        }
    }


def care_plan_resource(
    prescription: Prescription, patient: Patient, exercises: Sequence[PrescribedExercise]
) -> Resource:
    """The prescription as a CarePlan: one activity for the exercise-therapy ServiceRequest,
    then one per prescribed exercise (removed ones stay, `stopped`, for the history)."""
    tz = patient.tzinfo
    period = {"start": prescription.start_date.isoformat()}
    if (end := _plan_end(prescription)) is not None:
        period["end"] = end.isoformat()
    resource: Resource = {
        "resourceType": "CarePlan",
        "id": resource_id(CARE_PLAN, prescription.pk),
        "identifier": [{"system": PRESCRIPTION_ID_SYSTEM, "value": str(prescription.pk)}],
        "status": CARE_PLAN_STATUS[prescription.status],
        "intent": "plan",
        "category": [
            {
                "coding": [
                    {
                        "system": CARE_PLAN_CATEGORY_SYSTEM,
                        "code": "home-exercise-program",
                        "display": "Home exercise program",
                    }
                ],
                "text": "Home exercise program",
            }
        ],
        "title": prescription.name,
        "description": _plan_description(prescription, patient),
        "subject": reference(PATIENT, patient.pk, patient.full_name),
        "period": period,
        "created": _datetime(prescription.created_at, tz),
        "author": {"display": prescription.prescriber.display_name},
        "activity": [
            {"reference": reference(SERVICE_REQUEST, prescription.pk, "Exercise therapy")},
            *(_exercise_activity(prescription, item, tz) for item in exercises),
        ],
    }
    if prescription.protocol is not None:
        resource["instantiatesUri"] = [f"{PROTOCOL_URI_BASE}{prescription.protocol.slug}"]
    return resource


def service_request_resource(prescription: Prescription, patient: Patient) -> Resource:
    """The order for exercise therapy (SNOMED CT 229065009) that the CarePlan carries out."""
    end = _plan_end(prescription)
    resource: Resource = {
        "resourceType": "ServiceRequest",
        "id": resource_id(SERVICE_REQUEST, prescription.pk),
        "identifier": [{"system": PRESCRIPTION_ID_SYSTEM, "value": str(prescription.pk)}],
        "status": SERVICE_REQUEST_STATUS[prescription.status],
        "intent": "order",
        "code": {"coding": [EXERCISE_THERAPY], "text": f"Exercise therapy: {prescription.name}"},
        "subject": reference(PATIENT, patient.pk, patient.full_name),
        "occurrenceTiming": _weekly_timing(
            prescription,
            prescription.start_date.isoformat(),
            end.isoformat() if end is not None else None,
        ),
        "authoredOn": _datetime(prescription.created_at, patient.tzinfo),
        "requester": {"display": prescription.prescriber.display_name},
    }
    if reason := _reason_text(patient):
        resource["reasonCode"] = [{"text": reason}]
    return resource


def _session_code(code: str, display: str, *also: dict[str, str]) -> dict[str, Any]:
    return {
        "coding": [*also, {"system": SESSION_MEASURE_SYSTEM, "code": code, "display": display}],
        "text": display,
    }


def _entry_summary(entry: ExerciseLog) -> str:
    per_side = entry.prescribed_exercise.exercise.per_side
    done = (
        dosage_text(entry.sets_done, entry.reps_done, entry.hold_seconds_done, per_side)
        if entry.sets_done and entry.reps_done
        else ""
    )
    if entry.completed:
        return f"Done: {done}" if done else "Done"
    reason = entry.skipped_reason or "no reason given"
    return f"Partly done ({done}): {reason}" if done else f"Skipped: {reason}"


def session_observation(
    session: SessionLog, patient: Patient, entries: Sequence[ExerciseLog]
) -> Resource:
    """One logged session: pain before/after (LOINC 72514-3), difficulty, duration and what
    was done per exercise as components; based on the prescription's CarePlan."""
    components = []
    if session.pain_before is not None:
        components.append(
            {
                "code": _session_code("pain-before", "Pain before the session", PAIN_SEVERITY),
                "valueQuantity": _score_quantity(session.pain_before),
            }
        )
    if session.pain_after is not None:
        components.append(
            {
                "code": _session_code("pain-after", "Pain after the session", PAIN_SEVERITY),
                "valueQuantity": _score_quantity(session.pain_after),
            }
        )
    if session.difficulty is not None:
        components.append(
            {
                "code": _session_code("difficulty", "Perceived difficulty (0-10)"),
                "valueQuantity": _score_quantity(session.difficulty),
            }
        )
    if session.duration_minutes is not None:
        components.append(
            {
                "code": _session_code("duration", "Session duration", EXERCISE_DURATION),
                "valueQuantity": _minutes_quantity(session.duration_minutes),
            }
        )
    for entry in entries:
        exercise = entry.prescribed_exercise.exercise
        components.append(
            {
                "code": _exercise_code(exercise.slug, exercise.name),
                "valueString": _entry_summary(entry),
            }
        )
    resource: Resource = {
        "resourceType": "Observation",
        "id": resource_id(SESSION_OBSERVATION, session.pk),
        "identifier": [{"system": SESSION_ID_SYSTEM, "value": str(session.pk)}],
        "basedOn": [
            reference(CARE_PLAN, session.prescription_id),
            reference(SERVICE_REQUEST, session.prescription_id),
        ],
        "status": "final",
        "category": [
            _category("therapy", "Therapy"),
            _category("survey", "Survey"),
        ],
        "code": {
            "coding": [PAIN_SEVERITY],
            "text": "Home-exercise session: pain before and after",
        },
        "subject": reference(PATIENT, patient.pk, patient.full_name),
        "effectiveDateTime": _datetime(session.performed_at, patient.tzinfo),
        "issued": _datetime(session.created_at, patient.tzinfo),
        "performer": [reference(PATIENT, patient.pk, patient.full_name)],
    }
    if components:
        resource["component"] = components
    if session.notes:
        resource["note"] = [{"text": session.notes}]
    return resource


def _answer(value: object) -> dict[str, Any]:
    if isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    return {"valueString": str(value)}


def _response_items(measure: MeasureResponse) -> list[dict[str, Any]]:
    definition = instruments.get_instrument(measure.instrument)
    answers = measure.answers
    if definition.free_named_items:
        # PSFS: a repeating group, one per activity the patient named and rated.
        return [
            {
                "linkId": "activities",
                "text": "Activity",
                "item": [
                    {
                        "linkId": "activities.name",
                        "text": "Activity",
                        "answer": [{"valueString": str(activity["name"]).strip()}],
                    },
                    {
                        "linkId": "activities.rating",
                        "text": "How well can you do this activity today (0-10)?",
                        "answer": [_answer(activity["rating"])],
                    },
                ],
            }
            for activity in answers.get("activities", [])
        ]
    items = [
        {"linkId": item.key, "text": item.text, "answer": [_answer(answers[item.key])]}
        for item in definition.items
        if answers.get(item.key) is not None
    ]
    # Keys a later instrument version dropped still belong to this stored response.
    known = set(definition.item_keys)
    items += [
        {"linkId": str(key), "answer": [_answer(value)]}
        for key, value in sorted(answers.items())
        if key not in known and value is not None
    ]
    return items


def questionnaire_url(instrument: str, version: str) -> str:
    return f"{QUESTIONNAIRE_URL_BASE}{instrument}|{version}"


def questionnaire_response_resource(measure: MeasureResponse, patient: Patient) -> Resource:
    resource: Resource = {
        "resourceType": "QuestionnaireResponse",
        "id": resource_id(QUESTIONNAIRE_RESPONSE, measure.pk),
        "identifier": {"system": MEASURE_RESPONSE_ID_SYSTEM, "value": str(measure.pk)},
        "questionnaire": questionnaire_url(measure.instrument, measure.instrument_version),
        "status": "completed",
        "subject": reference(PATIENT, patient.pk, patient.full_name),
        "authored": _datetime(measure.taken_at, patient.tzinfo),
        "source": reference(PATIENT, patient.pk, patient.full_name),
        "item": _response_items(measure),
    }
    recorder = measure.recorded_by
    if recorder is None or measure.recorded_by_id == patient.user_id:
        resource["author"] = reference(PATIENT, patient.pk, patient.full_name)
    else:
        resource["author"] = {"display": recorder.get_full_name() or recorder.get_username()}
    return resource


def score_observation(measure: MeasureResponse, patient: Patient) -> Resource:
    """The instrument's score, derived from its QuestionnaireResponse."""
    definition = instruments.get_instrument(measure.instrument)
    codings = [
        {"system": OUTCOME_MEASURE_SYSTEM, "code": measure.instrument, "display": definition.name}
    ]
    if loinc := OUTCOME_SCORE_LOINC.get(measure.instrument):
        codings.insert(0, loinc)
    return {
        "resourceType": "Observation",
        "id": resource_id(SCORE_OBSERVATION, measure.pk),
        "status": "final",
        "category": [_category("survey", "Survey")],
        "code": {"coding": codings, "text": f"{definition.name} score"},
        "subject": reference(PATIENT, patient.pk, patient.full_name),
        "effectiveDateTime": _datetime(measure.taken_at, patient.tzinfo),
        "issued": _datetime(measure.created_at, patient.tzinfo),
        "valueQuantity": _score_quantity(measure.score),
        "derivedFrom": [reference(QUESTIONNAIRE_RESPONSE, measure.pk)],
    }
