from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"

    def ready(self) -> None:
        from . import audit_rules, schema_extensions  # noqa: F401 (registers OpenAPI extensions)

        audit_rules.register()
