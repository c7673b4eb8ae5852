from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api.fhir.views import PatientFhirView
from api.v1 import auth_views, patient_views, privacy_views, report_views
from api.v1.therapist.urls import urlpatterns as staff_urlpatterns

app_name = "api-v1"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(api_version="v1"), name="schema"),
    # The split view serves its init script as a file: no inline script under our CSP.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-v1:schema"), name="docs"),
    # Tokens and invite claims: api/v1/auth_views.py.
    path("auth/token/", auth_views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh/", auth_views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("auth/logout/", auth_views.LogoutView.as_view(), name="auth-logout"),
    path("auth/claim/", auth_views.ClaimView.as_view(), name="auth-claim"),
    # The patient's own data: api/v1/patient_views.py.
    path("me/", patient_views.MeView.as_view(), name="me"),
    path("me/plan/", patient_views.PlanView.as_view(), name="me-plan"),
    path("me/progress/", patient_views.ProgressView.as_view(), name="me-progress"),
    path(
        "me/sessions/",
        patient_views.SessionViewSet.as_view({"get": "list", "post": "create"}),
        name="me-sessions",
    ),
    path(
        "me/sessions/sync/",
        patient_views.SessionViewSet.as_view({"post": "sync"}),
        name="me-sessions-sync",
    ),
    path(
        # <str:pk>: a non-numeric id reaches the view and answers the API's JSON 404.
        "me/sessions/<str:pk>/",
        patient_views.SessionViewSet.as_view({"get": "retrieve"}),
        name="me-session-detail",
    ),
    path(
        "me/checkins/",
        patient_views.CheckInViewSet.as_view({"get": "list", "post": "create"}),
        name="me-checkins",
    ),
    path(
        "me/checkins/questions/",
        # `as_view` outside a router ignores @action's kwargs: pass them here, or the schema
        # documents a paginated page while the view returns a plain list.
        patient_views.CheckInViewSet.as_view(
            {"get": "questions"}, pagination_class=None, filterset_class=None
        ),
        name="me-checkin-questions",
    ),
    path(
        "me/measures/",
        patient_views.MeasureViewSet.as_view({"get": "list", "post": "create"}),
        name="me-measures",
    ),
    path("instruments/", patient_views.InstrumentListView.as_view(), name="instruments"),
    # Clinic staff (patients, programs, records, alerts) and the library: api/v1/therapist/.
    *staff_urlpatterns,
    # A patient's record as a FHIR R4 Bundle: api/fhir/.
    path("patients/<int:pk>/fhir/", PatientFhirView.as_view(), name="patient-fhir"),
    path(
        "reports/adherence.csv",
        report_views.ClinicReportViewSet.as_view({"get": "adherence_csv"}),
        name="report-adherence",
    ),
    # Clinic admins: the audit trail and a patient's data rights: api/v1/privacy_views.py.
    path("audit/", privacy_views.AuditEventViewSet.as_view({"get": "list"}), name="audit-list"),
    path(
        "patients/<int:pk>/export/",
        privacy_views.PatientPrivacyViewSet.as_view({"get": "export"}),
        name="patient-export",
    ),
    path(
        "patients/<int:pk>/erase/",
        privacy_views.PatientPrivacyViewSet.as_view({"post": "erase"}),
        name="patient-erase",
    ),
]
