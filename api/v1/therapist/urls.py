"""Routes of the staff endpoints and the library (included by api/v1/urls.py)."""

from rest_framework.routers import SimpleRouter

from .alerts import AlertViewSet
from .library import ExerciseViewSet, ProtocolViewSet
from .patients import (
    PatientCheckInViewSet,
    PatientMeasureViewSet,
    PatientSessionViewSet,
    PatientViewSet,
)
from .prescriptions import PrescriptionViewSet

router = SimpleRouter(use_regex_path=False)
router.register("patients", PatientViewSet, basename="patient")
router.register(
    "patients/<int:patient_pk>/prescriptions", PrescriptionViewSet, basename="prescription"
)
router.register(
    "patients/<int:patient_pk>/sessions", PatientSessionViewSet, basename="patient-session"
)
router.register(
    "patients/<int:patient_pk>/measures", PatientMeasureViewSet, basename="patient-measure"
)
router.register(
    "patients/<int:patient_pk>/checkins", PatientCheckInViewSet, basename="patient-checkin"
)
router.register("alerts", AlertViewSet, basename="alert")
router.register("exercises", ExerciseViewSet, basename="exercise")
router.register("protocols", ProtocolViewSet, basename="protocol")

urlpatterns = router.urls
