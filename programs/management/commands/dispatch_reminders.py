import datetime as dt
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_datetime

from programs.reminders import dispatch_due_reminders


class Command(BaseCommand):
    help = (
        "Run one reminder dispatch in this process: create today's due reminder rows and send "
        "them (in-process in the embedded default; through the broker when REDIS_URL is set)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--at",
            help="Dispatch as if it were this moment (ISO 8601 with an offset), e.g. for a demo.",
        )

    def handle(self, *args, **options) -> None:
        now = None
        if options["at"]:
            now = parse_datetime(options["at"])
            if now is None or now.tzinfo is None:
                raise CommandError("--at needs an ISO 8601 date-time with an offset.")
            now = now.astimezone(dt.UTC)
        result = dispatch_due_reminders(now=now)
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
