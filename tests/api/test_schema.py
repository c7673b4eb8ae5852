import re

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

ASSET_URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
ABSOLUTE_URL = re.compile(r"""(?:https?:)?//[\w.-]+""")
PUBLIC_OPERATIONS = {"/api/v1/schema/", "/api/v1/docs/"}
# Endpoints for one kind of caller (staff, or patients): the others get 403.
ROLE_PATHS = ("/api/v1/patients/", "/api/v1/alerts/", "/api/v1/me/")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_spectacular_validates_without_warnings(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn`: any warning or error fails here."""
    target = tmp_path / "schema.yaml"

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))

    assert yaml.safe_load(target.read_text())["openapi"].startswith("3.")


def test_generating_the_schema_emits_no_warnings(schema):
    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)

    assert not GENERATOR_STATS, [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]


def test_every_operation_documents_its_refusals_in_the_error_shape(schema):
    problems = []
    for path, method, operation in operations(schema):
        codes = {int(code) for code in operation["responses"]}
        if not any(200 <= code < 300 for code in codes):
            problems.append(f"{method} {path}: no success response")
        for code, response in operation["responses"].items():
            if int(code) < 400:
                continue
            ref = response.get("content", {}).get("application/json", {}).get("schema", {})
            if ref.get("$ref") != "#/components/schemas/Error":
                problems.append(f"{method} {path} {code}: not the Error schema")
        secured = operation.get("security") != [] and path not in PUBLIC_OPERATIONS
        if secured and not path.startswith("/api/v1/auth/") and 401 not in codes:
            problems.append(f"{method} {path}: 401 undocumented")
        if path.startswith(ROLE_PATHS) and 403 not in codes:
            problems.append(f"{method} {path}: 403 undocumented")
        if "{" in path and not path.startswith("/api/v1/auth/") and 404 not in codes:
            problems.append(f"{method} {path}: 404 undocumented")
        if method in {"post", "patch", "put"} and "requestBody" in operation and 400 not in codes:
            problems.append(f"{method} {path}: 400 undocumented")
    assert problems == []


def test_staff_endpoints_are_in_the_schema(schema):
    paths = set(schema["paths"])

    assert {
        "/api/v1/patients/",
        "/api/v1/patients/{id}/",
        "/api/v1/patients/{id}/discharge/",
        "/api/v1/patients/{id}/invite/",
        "/api/v1/patients/{id}/progress/",
        "/api/v1/patients/{patient_pk}/prescriptions/",
        "/api/v1/patients/{patient_pk}/prescriptions/{id}/advance/",
        "/api/v1/patients/{patient_pk}/prescriptions/{id}/exercises/{entry_id}/",
        "/api/v1/patients/{patient_pk}/sessions/",
        "/api/v1/alerts/{id}/acknowledge/",
        "/api/v1/exercises/",
        "/api/v1/protocols/{id}/",
    } <= paths
    assert set(schema["paths"]["/api/v1/patients/{id}/"]) >= {"get", "patch"}
    assert "put" not in schema["paths"]["/api/v1/patients/{id}/"]


def test_the_schema_endpoint_serves_the_contract(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    assert response.json()["info"]["title"] == "Stride API"


@pytest.mark.django_db
def test_swagger_ui_uses_only_local_assets(client):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assets = ASSET_URL.findall(html)
    assert any("swagger-ui-bundle.js" in asset for asset in assets)

    for asset in assets:
        assert not ABSOLUTE_URL.match(asset), f"{asset} is not served by us"
        assert client.get(asset).status_code == 200, asset
    # The init script (the split view serves it as a file) fetches nothing from elsewhere.
    [script] = [asset for asset in assets if asset.startswith("/api/v1/docs/")]
    assert not re.search(r"https?://", client.get(script).content.decode())


def test_times_of_day_are_documented_without_a_utc_offset(schema):
    """DRF renders "18:30:00"; OpenAPI's `format: time` demands an offset ("18:30:00Z"), so
    clients and validators would reject every reminder time (api/schema_extensions.py).
    """
    rendered = repr(schema)
    patient = schema["components"]["schemas"]["Patient"]["properties"]

    assert "'format': 'time'" not in rendered
    assert patient["reminder_time"]["format"] == "partial-time"
