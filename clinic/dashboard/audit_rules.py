"""What each dashboard page or action shows or changes, for the audit trail (clinic/audit.py).

Every dashboard route is either here or in UNAUDITED (no patient data);
tests/dashboard/test_audit_trail.py fails for a route that is in neither.
"""

from clinic.audit import RouteRule, register_route_rules

NS = "dashboard:"
PATIENT = "patient"
ON_PATIENT = "url:patient_id"


def _program_change() -> RouteRule:
    return RouteRule(
        "prescription", patient=ON_PATIENT, object_id="url:prescription_id",
        actions={"POST": "update"},
    )  # fmt: skip


RULES = {
    # The overview lists the page of patients (and alerts) it shows: recorded by the view.
    "overview": RouteRule(PATIENT, patient="view", actions={"GET": "list"}),
    "patient": RouteRule(PATIENT, patient=ON_PATIENT),
    "patient_new": RouteRule(PATIENT, patient="redirect:patient_id", actions={"POST": "create"}),
    "patient_edit": RouteRule(PATIENT, patient=ON_PATIENT, actions={"POST": "update"}),
    "report": RouteRule(PATIENT, patient=ON_PATIENT),
    "assign": RouteRule("prescription", patient=ON_PATIENT, actions={"POST": "create"}),
    "export": RouteRule("session", patient=ON_PATIENT, actions={"GET": "export"}),
    "patient_fhir": RouteRule(PATIENT, patient=ON_PATIENT, actions={"GET": "export"}),
    "patient_export": RouteRule(PATIENT, patient=ON_PATIENT, actions={"GET": "export"}),
    "patient_erase": RouteRule(PATIENT, patient=ON_PATIENT, actions={"POST": "erase"}),
    "acknowledge": RouteRule(
        "alert", patient=ON_PATIENT, object_id="url:alert_id", actions={"POST": "update"}
    ),
    "reminders": RouteRule(PATIENT, patient=ON_PATIENT, actions={"POST": "update"}),
    "invite": RouteRule(PATIENT, patient=ON_PATIENT, actions={"POST": "update"}),
    "discharge": RouteRule(PATIENT, patient=ON_PATIENT, actions={"POST": "update"}),
    "advance": _program_change(),
    "pause": _program_change(),
    "resume": _program_change(),
    "complete": _program_change(),
    "add_exercise": _program_change(),
    "dosage": _program_change(),
    "remove": _program_change(),
}

# No patient's data: the library, analytics (clinic-wide distributions, no one's rows) and
# the audit trail itself (ids and actions, not clinical data).
UNAUDITED = {"exercises", "protocols", "protocol", "analytics", "audit"}


def register() -> None:
    register_route_rules(
        {NS + name: rule for name, rule in RULES.items()},
        unaudited={NS + name for name in UNAUDITED},
    )
