from django.core.management.base import BaseCommand

from programs.alerts import alerts_sweep


class Command(BaseCommand):
    help = "Run the time-based alert rules (inactive, low adherence) once, in-process."

    def handle(self, *args: object, **options: object) -> None:
        result = alerts_sweep()
        self.stdout.write(
            f"Checked {result.prescriptions_checked} programs; opened {result.opened or 'none'}."
        )
