from django.urls import path

from .views import actions, analytics, builder, library, overview, patient, privacy, records
from .views.auth import StaffLoginView, logout_view

app_name = "dashboard"

PROGRAM = "patients/<int:patient_id>/programs/<int:prescription_id>"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("analytics/", analytics.analytics, name="analytics"),
    path("library/exercises/", library.exercise_library, name="exercises"),
    path("library/protocols/", library.protocol_list, name="protocols"),
    path("library/protocols/<slug:slug>/", library.protocol_detail, name="protocol"),
    path("audit/", privacy.audit_log, name="audit"),
    path("patients/new/", records.patient_new, name="patient_new"),
    path("patients/<int:patient_id>/fhir.json", privacy.patient_fhir, name="patient_fhir"),
    path("patients/<int:patient_id>/export.zip", privacy.patient_export, name="patient_export"),
    path("patients/<int:patient_id>/erase/", privacy.patient_erase, name="patient_erase"),
    path("patients/<int:patient_id>/", patient.patient_detail, name="patient"),
    path("patients/<int:patient_id>/edit/", records.patient_edit, name="patient_edit"),
    path("patients/<int:patient_id>/report/", patient.patient_report, name="report"),
    path("patients/<int:patient_id>/assign/", builder.assign_program, name="assign"),
    path("patients/<int:patient_id>/sessions.csv", actions.export_sessions, name="export"),
    path(
        "patients/<int:patient_id>/alerts/<int:alert_id>/acknowledge/",
        actions.acknowledge_alert,
        name="acknowledge",
    ),
    path("patients/<int:patient_id>/reminders/", actions.update_reminders, name="reminders"),
    path("patients/<int:patient_id>/invite/", actions.regenerate_invite, name="invite"),
    path("patients/<int:patient_id>/discharge/", actions.discharge_patient, name="discharge"),
    path(f"{PROGRAM}/advance/", actions.advance_phase, name="advance"),
    path(f"{PROGRAM}/pause/", actions.pause_program, name="pause"),
    path(f"{PROGRAM}/resume/", actions.resume_program, name="resume"),
    path(f"{PROGRAM}/complete/", actions.complete_program, name="complete"),
    path(f"{PROGRAM}/exercises/add/", actions.add_exercise, name="add_exercise"),
    path(f"{PROGRAM}/exercises/<int:item_id>/dosage/", actions.update_dosage, name="dosage"),
    path(f"{PROGRAM}/exercises/<int:item_id>/remove/", actions.remove_exercise, name="remove"),
]

login_urlpatterns = [
    path("accounts/login/", StaffLoginView.as_view(), name="login"),
    path("accounts/logout/", logout_view, name="logout"),
]
