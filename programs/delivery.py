"""How a reminder reaches a patient: the message (a pure function of its content) and channels.

A channel has one method, `send(reminder, message)`, and raises `DeliveryError` when the message
did not go out (`permanent=True` when trying again cannot help, e.g. no address). A sender makes
one channel object per batch of reminders and calls its optional `close()` after the batch, so a
channel may keep a connection open between sends. Which backend
serves each patient channel (`email`, `sms`, `push`) is `settings.STRIDE_REMINDER_CHANNELS`:

- `email`: Django's e-mail framework, plain text with an HTML alternative;
- `webhook`: POSTs JSON to `STRIDE_REMINDER_WEBHOOK_URL`, signed
  `X-Stride-Signature: sha256=<hex HMAC-SHA256 of the raw body with the shared secret>`; the
  SMS/push provider bridge lives outside Stride;
- `console`: logs the message (the embedded default for SMS and push);
- `recording`: one JSON file per delivery in `STRIDE_REMINDER_RECORD_DIR`, so tests and
  benchmarks can count deliveries from outside the worker process.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from .models import Reminder

logger = logging.getLogger("stride.reminders")

SIGNATURE_HEADER = "X-Stride-Signature"
IDEMPOTENCY_HEADER = "X-Stride-Idempotency-Key"
RETRYABLE_HTTP_STATUSES = {408, 425, 429}


class DeliveryError(Exception):
    """The message did not go out. `permanent`: retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


# --- the message ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExerciseLine:
    name: str
    sets: int
    reps: int
    hold_seconds: int = 0
    per_side: bool = False
    notes: str = ""

    @property
    def dosage(self) -> str:
        parts = [f"{self.sets} × {self.reps}"]
        if self.hold_seconds:
            parts.append(f"hold {self.hold_seconds} s")
        if self.per_side:
            parts.append("each side")
        return ", ".join(parts)


@dataclass(frozen=True)
class ReminderContent:
    """Everything a reminder says, gathered from the database once."""

    reminder_id: int
    kind: str  # Reminder.Kind
    local_date: dt.date
    first_name: str
    clinic_name: str
    program_names: tuple[str, ...] = ()
    exercises: tuple[ExerciseLine, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReminderMessage:
    """What a reminder says; the e-mail bodies are rendered when a channel first reads them
    (the SMS, push and webhook channels never do)."""

    subject: str
    short_text: str  # SMS / push body
    template_context: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @cached_property
    def text(self) -> str:
        """The plain-text e-mail body."""
        return render_to_string("email/reminder.txt", self.template_context)

    @cached_property
    def html(self) -> str:
        return render_to_string("email/reminder.html", self.template_context)


def build_reminder_message(content: ReminderContent) -> ReminderMessage:
    """Subject, plain text, HTML and a short SMS/push text for one reminder (no database)."""
    missed = content.kind == "missed"
    subject = (
        "A new day for your exercises" if missed else "Time for today's exercises"
    ) + f", {content.first_name}"
    context = {
        "content": content,
        "missed": missed,
        "subject": subject,
        "weekday": content.local_date.strftime("%A"),
    }
    count = len(content.exercises)
    opening = (
        f"Hi {content.first_name}, yesterday's session did not happen — no problem, "
        "today is a new chance."
        if missed
        else f"Hi {content.first_name}, time for today's home exercises."
    )
    listing = ", ".join(f"{line.name} {line.sets}×{line.reps}" for line in content.exercises[:3])
    more = f" and {count - 3} more" if count > 3 else ""
    short_text = f"{opening} {count} exercise{'s' if count != 1 else ''}: {listing}{more}."
    return ReminderMessage(subject=subject, short_text=short_text[:320], template_context=context)


def idempotency_key(reminder: "Reminder") -> str:
    """Stable per reminder: a provider that dedupes on it turns a re-send into a no-op."""
    return f"stride-reminder-{reminder.pk}"


# --- channels -------------------------------------------------------------------------------


class Channel(Protocol):
    def send(self, reminder: "Reminder", message: ReminderMessage) -> None: ...


class ConsoleChannel:
    """Logs the message: the embedded default for SMS and push (no provider configured)."""

    def send(self, reminder: "Reminder", message: ReminderMessage) -> None:
        logger.info(
            "[%s reminder %s → patient %s] %s",
            reminder.channel,
            reminder.pk,
            reminder.patient_id,
            message.short_text,
        )


class EmailChannel:
    """Django e-mail: plain text plus an HTML alternative, to the patient's address.

    One connection to the mail server for all the sends of a batch, reopened after a failure.
    """

    def __init__(self) -> None:
        self.connection: Any = None

    def send(self, reminder: "Reminder", message: ReminderMessage) -> None:
        address = reminder.patient.email
        if not address:
            raise DeliveryError("The patient has no e-mail address.", permanent=True)
        email = EmailMultiAlternatives(
            subject=message.subject,
            body=message.text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={IDEMPOTENCY_HEADER: idempotency_key(reminder)},
        )
        email.attach_alternative(message.html, "text/html")
        try:
            if self.connection is None:
                self.connection = get_connection(fail_silently=False)
                self.connection.open()
            email.connection = self.connection
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP and socket errors alike: try again later
            self.close()
            raise DeliveryError(f"E-mail not sent: {exc!r}") from exc

    def close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a broken connection: nothing left to close
                logger.debug("Closing the mail connection failed.", exc_info=True)


def webhook_signature(secret: str, body: bytes) -> str:
    """The `X-Stride-Signature` value for a body: `sha256=<hex HMAC-SHA256>`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_payload(reminder: "Reminder", message: ReminderMessage) -> dict:
    patient = reminder.patient
    return {
        "id": idempotency_key(reminder),
        "reminder_id": reminder.pk,
        "kind": reminder.kind,
        "channel": reminder.channel,
        "local_date": reminder.local_date.isoformat(),
        "recipient": {
            "patient_id": patient.pk,
            "user_id": patient.user_id,
            "phone": patient.phone,
            "timezone": patient.timezone,
        },
        "title": message.subject,
        "text": message.short_text,
        "sent_at": timezone.now().isoformat(),
    }


class WebhookChannel:
    """POSTs signed JSON to the provider bridge; 5xx, 408, 429 and network errors are retried."""

    def __init__(self, url: str | None = None, secret: str | None = None) -> None:
        self.url = url or settings.STRIDE_REMINDER_WEBHOOK_URL
        self.secret = secret or settings.STRIDE_REMINDER_WEBHOOK_SECRET
        if not (self.url and self.secret):
            raise ImproperlyConfigured(
                "The webhook channel needs STRIDE_REMINDER_WEBHOOK_URL and _SECRET."
            )
        self.session = requests.Session()  # keep-alive across the sends of a batch

    def send(self, reminder: "Reminder", message: ReminderMessage) -> None:
        if reminder.channel == "sms" and not reminder.patient.phone:
            raise DeliveryError("The patient has no phone number.", permanent=True)
        body = json.dumps(webhook_payload(reminder, message), separators=(",", ":")).encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: webhook_signature(self.secret, body),
            IDEMPOTENCY_HEADER: idempotency_key(reminder),
        }
        try:
            response = self.session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=settings.STRIDE_REMINDER_WEBHOOK_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise DeliveryError(f"Webhook unreachable: {exc!r}") from exc
        if response.status_code >= 300:
            retryable = (
                response.status_code >= 500 or response.status_code in RETRYABLE_HTTP_STATUSES
            )
            raise DeliveryError(
                f"Webhook answered {response.status_code}: {response.text[:200]}",
                permanent=not retryable,
            )

    def close(self) -> None:
        self.session.close()


class RecordingChannel:
    """Writes one file per delivery (tests, benchmarks); a `started/` marker comes first.

    Files are written whole and renamed into place, so a reader never sees half a record and a
    process killed mid-send leaves a marker but no delivery.
    """

    def __init__(self, directory: str | None = None, delay: float | None = None) -> None:
        directory = directory or settings.STRIDE_REMINDER_RECORD_DIR
        if not directory:
            raise ImproperlyConfigured("The recording channel needs STRIDE_REMINDER_RECORD_DIR.")
        self.directory = Path(directory)
        self.delay = settings.STRIDE_REMINDER_RECORD_DELAY if delay is None else delay
        self.started = self.directory / "started"
        self.delivered = self.directory / "delivered"
        self.started.mkdir(parents=True, exist_ok=True)
        self.delivered.mkdir(parents=True, exist_ok=True)

    def send(self, reminder: "Reminder", message: ReminderMessage) -> None:
        stamp = f"{reminder.pk}-{uuid.uuid4().hex}"
        started = {"at": time.time(), "pid": os.getpid()}
        _write_atomically(self.started / stamp, json.dumps(started).encode())
        if self.delay:
            time.sleep(self.delay)
        record = {
            "reminder_id": reminder.pk,
            "patient_id": reminder.patient_id,
            "kind": reminder.kind,
            "local_date": reminder.local_date.isoformat(),
            "channel": reminder.channel,
            "pid": os.getpid(),
            "subject": message.subject,
        }
        _write_atomically(self.delivered / f"{stamp}.json", json.dumps(record).encode())


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    partial.replace(path)


def recorded_deliveries(directory: str | Path) -> list[dict]:
    """The recording channel's deliveries, one dict each (the test and benchmark reader)."""
    folder = Path(directory) / "delivered"
    if not folder.exists():
        return []
    return [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]


BACKENDS: dict[str, type] = {
    "console": ConsoleChannel,
    "email": EmailChannel,
    "webhook": WebhookChannel,
    "recording": RecordingChannel,
}


def channel_for(patient_channel: str) -> Channel:
    """The configured backend for a patient channel (`email`, `sms`, `push`)."""
    backend = settings.STRIDE_REMINDER_CHANNELS.get(patient_channel, "console")
    channel_class = BACKENDS.get(backend) or import_string(backend)
    return channel_class()
