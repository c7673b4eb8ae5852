"""The identifier systems and codes the FHIR export uses.

External codes were checked against published sources: SNOMED CT 229065009 (exercise
therapy), LOINC 72514-3 (pain severity 0-10, reported), 55411-3 (exercise duration),
82323-7 / 82332-8 (HOOS JR / KOOS JR total interval score). Where no standard code fits,
Stride's own code system is used.
"""

import uuid

# Stride's own identifier systems and code systems. `stride.example` stands in for the
# deployment's domain; the UUID namespace is derived from it, so a deployment that sets its
# own base also gets its own resource ids.
STRIDE_FHIR_BASE = "https://stride.example/fhir"
PATIENT_ID_SYSTEM = f"{STRIDE_FHIR_BASE}/patient-id"
CLINIC_ID_SYSTEM = f"{STRIDE_FHIR_BASE}/clinic-id"
PRESCRIPTION_ID_SYSTEM = f"{STRIDE_FHIR_BASE}/prescription-id"
SESSION_ID_SYSTEM = f"{STRIDE_FHIR_BASE}/session-id"
MEASURE_RESPONSE_ID_SYSTEM = f"{STRIDE_FHIR_BASE}/measure-response-id"
PROTOCOL_URI_BASE = f"{STRIDE_FHIR_BASE}/protocol/"
QUESTIONNAIRE_URL_BASE = f"{STRIDE_FHIR_BASE}/Questionnaire/"
EXERCISE_SYSTEM = f"{STRIDE_FHIR_BASE}/CodeSystem/exercise"
OUTCOME_MEASURE_SYSTEM = f"{STRIDE_FHIR_BASE}/CodeSystem/outcome-measure"
SESSION_MEASURE_SYSTEM = f"{STRIDE_FHIR_BASE}/CodeSystem/session-measure"
CARE_PLAN_CATEGORY_SYSTEM = f"{STRIDE_FHIR_BASE}/CodeSystem/care-plan-category"

UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, STRIDE_FHIR_BASE)

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"

EXERCISE_THERAPY = {
    "system": SNOMED,
    "code": "229065009",
    "display": "Exercise therapy (regime/therapy)",
}
PAIN_SEVERITY = {
    "system": LOINC,
    "code": "72514-3",
    "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
}
EXERCISE_DURATION = {"system": LOINC, "code": "55411-3", "display": "Exercise duration"}

# LOINC codes for the score of an instrument, where LOINC has one. NPRS is the 0-10 verbal
# numeric pain rating itself. LEFS and PSFS scores have only Stride's code.
OUTCOME_SCORE_LOINC = {
    "nprs": PAIN_SEVERITY,
    "hoos_jr": {"system": LOINC, "code": "82323-7", "display": "Total interval score [HOOSJR]"},
    "koos_jr": {"system": LOINC, "code": "82332-8", "display": "Total interval score [KOOSJR]"},
}
