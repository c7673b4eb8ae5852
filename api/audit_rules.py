"""What each API route shows or changes, for the audit trail (clinic/audit.py).

Every route of the v1 URL conf is either here or in UNAUDITED (no patient data);
tests/clinic/test_audit_coverage.py fails for a route that is in neither.
"""

from clinic.audit import RouteRule, register_route_rules

NS = "api-v1:"
PATIENT = "patient"

RULES = {
    # The patient's own data.
    "me": RouteRule(PATIENT, patient="me"),
    "me-plan": RouteRule("plan", patient="me"),
    "me-progress": RouteRule("progress", patient="me"),
    "me-sessions": RouteRule(
        "session", patient="me", object_id="results:id", actions={"GET": "list"}
    ),
    "me-sessions-sync": RouteRule(
        "session", patient="me", object_id="results:client_id", actions={"POST": "create"}
    ),
    "me-session-detail": RouteRule("session", patient="me", object_id="url:pk"),
    "me-checkins": RouteRule(
        "checkin", patient="me", object_id="results:id", actions={"GET": "list"}
    ),
    "me-measures": RouteRule(
        "measure", patient="me", object_id="results:id", actions={"GET": "list"}
    ),
    # Clinic staff.
    "patient-list": RouteRule(
        PATIENT, patient="results:id", actions={"GET": "list"}
    ),
    "patient-detail": RouteRule(PATIENT, patient="url:pk"),
    "patient-discharge": RouteRule(PATIENT, patient="url:pk", actions={"POST": "update"}),
    "patient-invite": RouteRule(PATIENT, patient="url:pk", actions={"POST": "update"}),
    "patient-progress": RouteRule("progress", patient="url:pk"),
    "patient-fhir": RouteRule(PATIENT, patient="url:pk", actions={"GET": "export"}),
    "prescription-list": RouteRule(
        "prescription", patient="url:patient_pk", object_id="results:id",
        actions={"GET": "list"},
    ),
    "prescription-detail": RouteRule("prescription", patient="url:patient_pk", object_id="url:pk"),
    "prescription-add-exercise": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk", actions={"POST": "update"}
    ),
    "prescription-exercise-entry": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk",
        actions={"DELETE": "update"},
    ),
    "prescription-advance": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk", actions={"POST": "update"}
    ),
    "prescription-pause": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk", actions={"POST": "update"}
    ),
    "prescription-resume": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk", actions={"POST": "update"}
    ),
    "prescription-complete": RouteRule(
        "prescription", patient="url:patient_pk", object_id="url:pk", actions={"POST": "update"}
    ),
    "patient-session-list": RouteRule(
        "session", patient="url:patient_pk", object_id="results:id", actions={"GET": "list"}
    ),
    "patient-measure-list": RouteRule(
        "measure", patient="url:patient_pk", object_id="results:id", actions={"GET": "list"}
    ),
    "patient-checkin-list": RouteRule(
        "checkin", patient="url:patient_pk", object_id="results:id", actions={"GET": "list"}
    ),
    # A streamed file: the view cannot list its rows afterwards, so it records its own export.
    "report-adherence": RouteRule(PATIENT, patient="view", actions={"GET": "export"}),
    "patient-export": RouteRule(PATIENT, patient="url:pk", actions={"GET": "export"}),
    "patient-erase": RouteRule(PATIENT, patient="url:pk", actions={"POST": "erase"}),
    "alert-list": RouteRule(
        "alert", patient="results:patient", object_id="results:id", actions={"GET": "list"}
    ),
    "alert-acknowledge": RouteRule(
        "alert", patient="data:patient", object_id="url:pk", actions={"POST": "update"}
    ),
}  # fmt: skip

UNAUDITED = {
    "schema", "docs", "auth-token", "auth-token-refresh", "auth-logout", "auth-claim",
    "instruments", "me-checkin-questions", "exercise-list", "exercise-detail",
    "protocol-list", "protocol-detail",
    # Reading the trail itself is not recorded again (it holds no clinical data).
    "audit-list",
}  # fmt: skip


def register() -> None:
    register_route_rules(
        {NS + name: rule for name, rule in RULES.items()},
        unaudited={NS + name for name in UNAUDITED},
    )
