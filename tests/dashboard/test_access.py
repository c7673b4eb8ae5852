"""Who may open what, generated from the dashboard's URLconf so a new page cannot skip it."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse

from clinic.dashboard import urls as dashboard_urls
from clinic.dashboard.access import practitioner_for
from clinic.models import Practitioner
from programs.models import Alert, PrescribedExercise
from tests import factories

pytestmark = pytest.mark.django_db

# Pages a therapist opens with GET; every other dashboard URL is a POST-only action.
GET_PAGES = {
    "overview",
    "analytics",
    "exercises",
    "protocols",
    "protocol",
    "patient_new",
    "patient",
    "patient_edit",
    "report",
    "assign",
    "export",
    "audit",
    "patient_fhir",
    "patient_export",
    "patient_erase",
}
# Pages for clinic admins only: a therapist of the clinic gets 403.
ADMIN_ONLY = {"audit", "patient_export", "patient_erase"}
PATIENT_SCOPED = {"patient_id"}


def dashboard_routes() -> list[tuple[str, set[str]]]:
    routes = []
    for pattern in dashboard_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        routes.append((pattern.name, set(pattern.pattern.converters)))
    return routes


ROUTES = dashboard_routes()
POST_ACTIONS = [name for name, _ in ROUTES if name not in GET_PAGES]


def test_every_route_is_classified():
    names = {name for name, _ in ROUTES}
    assert names >= GET_PAGES
    assert set(POST_ACTIONS) == names - GET_PAGES
    assert {"acknowledge", "advance", "dosage", "add_exercise", "remove"} <= set(POST_ACTIONS)


@pytest.fixture
def objects(patient, thr_prescription):
    """Ids to fill every URL parameter, all in the therapist's clinic."""
    alert = Alert.objects.create(
        clinic=patient.clinic, patient=patient, kind="inactive", severity="warning", message="x"
    )
    item = PrescribedExercise.objects.filter(prescription=thr_prescription, active=True).first()
    return {
        "patient_id": patient.pk,
        "prescription_id": thr_prescription.pk,
        "item_id": item.pk,
        "alert_id": alert.pk,
        "slug": "total-hip-replacement-posterior",
    }


def url_for(name: str, params: set[str], values: dict) -> str:
    return reverse(f"dashboard:{name}", kwargs={p: values[p] for p in params})


@pytest.mark.parametrize(("name", "params"), [r for r in ROUTES if r[0] in GET_PAGES])
def test_page_renders_for_a_therapist(staff_client, objects, name, params):
    response = staff_client.get(url_for(name, params, objects))
    assert response.status_code == (403 if name in ADMIN_ONLY else 200)


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_admin_pages_render_for_a_clinic_admin(client, clinic, objects, name):
    admin = factories.PractitionerFactory(clinic=clinic, role=Practitioner.Role.ADMIN)
    client.force_login(admin.user)
    response = client.get(url_for(name, dict(ROUTES)[name], objects))
    assert response.status_code == 200


@pytest.mark.parametrize(("name", "params"), ROUTES)
def test_anonymous_is_sent_to_login(client, objects, name, params):
    url = url_for(name, params, objects)
    response = client.get(url) if name in GET_PAGES else client.post(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(("name", "params"), ROUTES)
def test_a_patient_account_gets_403(patient_client, objects, name, params):
    url = url_for(name, params, objects)
    response = patient_client.get(url) if name in GET_PAGES else patient_client.post(url)
    assert response.status_code == 403
    assert b"for clinic staff" in response.content


@pytest.mark.parametrize(("name", "params"), [r for r in ROUTES if r[1] & PATIENT_SCOPED])
def test_another_clinics_patient_is_404(staff_client, objects, other_clinic_patient, name, params):
    patient, prescription, alert = other_clinic_patient
    item = prescription.exercises.filter(active=True).first()
    values = {
        **objects,
        "patient_id": patient.pk,
        "prescription_id": prescription.pk,
        "item_id": item.pk,
        "alert_id": alert.pk,
    }
    url = url_for(name, params, values)
    response = staff_client.get(url) if name in GET_PAGES else staff_client.post(url)
    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.parametrize(("name", "params"), [r for r in ROUTES if "prescription_id" in r[1]])
def test_a_program_of_another_patient_is_404(
    staff_client, objects, other_clinic_patient, name, params
):
    """Own patient in the URL, but someone else's program: still 404."""
    _, prescription, _ = other_clinic_patient
    item = prescription.exercises.filter(active=True).first()
    url = url_for(name, params, {**objects, "prescription_id": prescription.pk, "item_id": item.pk})
    assert staff_client.post(url).status_code == 404


@pytest.mark.parametrize("name", POST_ACTIONS)
def test_actions_refuse_get(staff_client, objects, name):
    params = dict(ROUTES)[name]
    assert staff_client.get(url_for(name, params, objects)).status_code == 405


def test_only_staff_can_log_in(client, patient_client):
    client.logout()
    response = client.post(
        reverse("login"), {"username": "pat-app", "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 200
    assert b"This login is for clinic staff" in response.content
    assert "_auth_user_id" not in client.session


def test_staff_log_in_and_land_on_the_overview(client, therapist):
    response = client.post(
        reverse("login"),
        {"username": therapist.user.username, "password": "correct-horse-battery-staple"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("dashboard:overview")
    assert b"Needs attention" in response.content


def test_the_practitioner_and_clinic_come_with_the_session_user(staff_client, therapist):
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse("dashboard:protocols"))
    assert response.status_code == 200
    (user_query,) = [q["sql"] for q in queries if 'FROM "auth_user"' in q["sql"]]
    assert '"clinic_practitioner"' in user_query
    assert '"clinic_clinic"' in user_query
    assert not [q for q in queries if q["sql"].startswith('SELECT "clinic_practitioner"')]
    assert response.wsgi_request.practitioner == therapist


def test_a_user_loaded_without_the_practitioner_still_resolves_it(rf, therapist, patient_client):
    request = rf.get("/")
    request.user = get_user_model().objects.get(pk=therapist.user.pk)  # no select_related
    practitioner = practitioner_for(request)
    assert practitioner == therapist
    assert practitioner.clinic == therapist.clinic
    request.user = get_user_model().objects.get(username="pat-app")  # a patient's login
    assert practitioner_for(request) is None


# --- clinic_patient: the patient read, as select_related reads it -----------------------------


def staff_request(therapist):
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = therapist.user
    request.practitioner = therapist
    request.clinic = therapist.clinic
    return request


def model_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_patient_loads_as_select_related_does(therapist, patient, django_assert_num_queries):
    from clinic.dashboard.access import clinic_patient
    from patients.models import Patient

    patient.date_of_birth = None
    patient.precaution_tags = ["posterior-hip", "no-flexion-past-90"]
    patient.save()
    reference = Patient.objects.select_related("therapist__user").get(pk=patient.pk)
    with django_assert_num_queries(1):
        loaded = clinic_patient(staff_request(therapist), patient.pk)
        therapist_user = loaded.therapist.user
    assert model_values(loaded) == model_values(reference)
    assert model_values(loaded.therapist) == model_values(reference.therapist)
    assert model_values(therapist_user) == model_values(reference.therapist.user)
    assert loaded.clinic == therapist.clinic
    assert not loaded._state.adding


@pytest.mark.parametrize("which", ["other-clinic", "unknown", "too-large"])
def test_a_patient_outside_the_clinic_or_unknown_is_404(therapist, other_clinic_patient, which):
    from django.http import Http404

    from clinic.dashboard.access import clinic_patient

    patient_id = {
        "other-clinic": other_clinic_patient[0].pk,
        "unknown": 10**9,
        "too-large": 10**30,
    }[which]
    with pytest.raises(Http404):
        clinic_patient(staff_request(therapist), patient_id)
