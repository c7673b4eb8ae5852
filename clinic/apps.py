from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"

    def ready(self) -> None:
        from .dashboard import audit_rules

        audit_rules.register()
