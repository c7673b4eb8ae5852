import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from patients import services as patient_services
from programs import delivery
from programs.delivery import (
    DeliveryError,
    ExerciseLine,
    RecordingChannel,
    ReminderContent,
    WebhookChannel,
    build_reminder_message,
    channel_for,
    recorded_deliveries,
    webhook_signature,
)
from programs.models import Reminder
from programs.reminders import dispatch_due_reminders, reminder_send
from tests import factories

SECRET = "webhook-shared-secret"
NOW = dt.datetime(2026, 6, 10, 22, 30, tzinfo=dt.UTC)  # 18:30 in New York


def content(**changes) -> ReminderContent:
    values = {
        "reminder_id": 7,
        "kind": "session",
        "local_date": dt.date(2026, 6, 10),
        "first_name": "Alex",
        "clinic_name": "Riverside Physio",
        "program_names": ("Hip replacement, phase 2",),
        "exercises": (
            ExerciseLine("Bridges", 3, 10, hold_seconds=3),
            ExerciseLine("Clamshells", 2, 15, per_side=True),
        ),
    }
    return ReminderContent(**(values | changes))


# --- the message (pure) ----------------------------------------------------------------------


def test_the_message_names_the_patient_and_lists_exercises_with_dosage():
    message = build_reminder_message(content())
    assert message.subject == "Time for today's exercises, Alex"
    assert "Hi Alex" in message.text
    assert "- Bridges: 3 × 10, hold 3 s" in message.text
    assert "- Clamshells: 2 × 15, each side" in message.text
    assert "Hip replacement, phase 2" in message.text
    assert "Wednesday" in message.text
    assert '<td style="padding: 4px 0;">3 × 10, hold 3 s</td>' in message.html
    assert message.short_text.startswith("Hi Alex, time for today's home exercises. 2 exercises:")


def test_the_html_is_escaped_and_the_text_is_not():
    message = build_reminder_message(content(first_name="Zoë <b>", clinic_name="A & B"))
    assert "Hi Zoë &lt;b&gt;" in message.html
    assert "A &amp; B" in message.html
    assert "Hi Zoë <b>" in message.text
    assert "A & B" in message.text


def test_the_short_text_lists_three_exercises_and_counts_the_rest():
    lines = tuple(ExerciseLine(f"Exercise {n}", 2, 10) for n in range(5))
    message = build_reminder_message(content(exercises=lines))
    assert "Exercise 0 2×10, Exercise 1 2×10, Exercise 2 2×10 and 2 more." in message.short_text
    assert len(message.short_text) <= 320


def test_the_missed_session_nudge_says_so():
    message = build_reminder_message(content(kind="missed"))
    assert message.subject.startswith("A new day for your exercises")
    assert "Yesterday's home exercise session did not happen" in message.text


@pytest.mark.parametrize(
    ("line", "dosage"),
    [
        (ExerciseLine("Bike", 1, 1, hold_seconds=600), "1 × 1, hold 600 s"),
        (ExerciseLine("Lunge", 3, 8, per_side=True), "3 × 8, each side"),
        (ExerciseLine("Squat", 3, 12), "3 × 12"),
    ],
)
def test_dosage(line, dosage):
    assert line.dosage == dosage


def test_the_signature_is_hmac_sha256_of_the_body():
    body = b'{"a":1}'
    expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert webhook_signature(SECRET, body) == f"sha256={expected}"


# --- channels --------------------------------------------------------------------------------


class Provider(BaseHTTPRequestHandler):
    """A stand-in SMS/push provider bridge: records each request, answers `status`."""

    requests: list[dict] = []
    status = 202

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).requests.append({"headers": dict(self.headers), "body": body})
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    Provider.requests = []
    Provider.status = 202
    server = HTTPServer(("127.0.0.1", 0), Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Provider, f"http://127.0.0.1:{server.server_address[1]}/stride/reminders"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sms_patient(db, clinic, therapist, exercises, settings, provider):
    _, url = provider
    settings.STRIDE_REMINDER_CHANNELS = {"email": "email", "sms": "webhook", "push": "webhook"}
    settings.STRIDE_REMINDER_WEBHOOK_URL = url
    settings.STRIDE_REMINDER_WEBHOOK_SECRET = SECRET
    patient = factories.create_patient(
        clinic=clinic, therapist=therapist, phone="+15550123", reminder_time=dt.time(18, 0)
    )
    patient_services.patient_update_reminders(patient=patient, reminder_channel="sms")
    factories.assign_custom_program(
        patient=patient, prescriber=therapist, exercises=exercises, start_date=dt.date(2026, 1, 1)
    )
    dispatch_due_reminders(now=NOW)
    return patient


def test_the_webhook_posts_json_whose_signature_verifies_with_the_shared_secret(
    sms_patient, provider
):
    handler, _ = provider
    reminder = Reminder.objects.get(patient=sms_patient)

    assert reminder_send(reminder_id=reminder.pk, now=NOW) == "sent"

    (request,) = handler.requests
    headers, body = request["headers"], request["body"]
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Stride-Signature"], f"sha256={signature}")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Stride-Idempotency-Key"] == f"stride-reminder-{reminder.pk}"
    payload = json.loads(body)
    assert payload["reminder_id"] == reminder.pk
    assert payload["channel"] == "sms"
    assert payload["recipient"]["phone"] == "+15550123"
    assert payload["local_date"] == "2026-06-10"
    assert payload["text"].startswith(f"Hi {sms_patient.first_name}")


def test_a_tampered_body_does_not_verify(sms_patient, provider):
    handler, _ = provider
    reminder_send(reminder_id=Reminder.objects.get().pk, now=NOW)
    (request,) = handler.requests
    tampered = request["body"].replace(b'"sms"', b'"push"')
    assert webhook_signature(SECRET, tampered) != request["headers"]["X-Stride-Signature"]


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_a_provider_error_is_retried(sms_patient, provider, status):
    handler, _ = provider
    handler.status = status
    reminder = Reminder.objects.get()

    with pytest.raises(DeliveryError) as error:
        reminder_send(reminder_id=reminder.pk, now=NOW)

    assert not error.value.permanent
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("pending", 1)
    assert f"Webhook answered {status}" in reminder.last_error


def test_a_rejected_request_fails_without_retrying(sms_patient, provider):
    handler, _ = provider
    handler.status = 400
    reminder = Reminder.objects.get()

    assert reminder_send(reminder_id=reminder.pk, now=NOW) == "failed"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("failed", 1)


def test_an_unreachable_provider_is_retried(sms_patient, settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings.STRIDE_REMINDER_WEBHOOK_URL = f"http://127.0.0.1:{closed_port}/"
    settings.STRIDE_REMINDER_WEBHOOK_TIMEOUT = 2
    reminder = Reminder.objects.get()

    with pytest.raises(DeliveryError, match="unreachable"):
        reminder_send(reminder_id=reminder.pk, now=NOW)


def test_sms_to_a_patient_without_a_phone_fails_for_good(sms_patient, provider):
    handler, _ = provider
    patient_services.patient_update(patient=sms_patient, phone="")
    assert reminder_send(reminder_id=Reminder.objects.get().pk, now=NOW) == "failed"
    assert not handler.requests
    assert "no phone number" in Reminder.objects.get().last_error


def test_the_webhook_channel_needs_a_url_and_a_secret(settings):
    settings.STRIDE_REMINDER_WEBHOOK_URL = ""
    with pytest.raises(ImproperlyConfigured):
        WebhookChannel()


def test_the_console_channel_logs_the_short_text(sms_patient, settings, caplog):
    settings.STRIDE_REMINDER_CHANNELS = {"sms": "console"}
    with caplog.at_level(logging.INFO, logger="stride.reminders"):
        assert reminder_send(reminder_id=Reminder.objects.get().pk, now=NOW) == "sent"
    assert f"Hi {sms_patient.first_name}, time for today's home exercises" in caplog.text


def test_the_recording_channel_writes_one_file_per_delivery(sms_patient, settings, tmp_path):
    settings.STRIDE_REMINDER_CHANNELS = {"sms": "recording"}
    settings.STRIDE_REMINDER_RECORD_DIR = str(tmp_path)
    reminder = Reminder.objects.get()

    reminder_send(reminder_id=reminder.pk, now=NOW)
    reminder_send(reminder_id=reminder.pk, now=NOW)  # already sent: nothing recorded

    (record,) = recorded_deliveries(tmp_path)
    assert (record["reminder_id"], record["patient_id"]) == (reminder.pk, sms_patient.pk)
    assert len(list((tmp_path / "started").iterdir())) == 1


def test_the_recording_channel_needs_a_folder(settings):
    settings.STRIDE_REMINDER_RECORD_DIR = ""
    with pytest.raises(ImproperlyConfigured):
        RecordingChannel()


class CustomChannel:
    def send(self, reminder, message):
        pass


def test_a_channel_is_chosen_by_setting_and_may_be_a_dotted_path(settings):
    settings.STRIDE_REMINDER_CHANNELS = {
        "email": "email",
        "push": "tests.programs.test_delivery.CustomChannel",
    }
    assert isinstance(channel_for("email"), delivery.EmailChannel)
    assert isinstance(channel_for("push"), CustomChannel)
    assert isinstance(channel_for("sms"), delivery.ConsoleChannel)  # not configured


def test_a_channel_missing_its_settings_fails_the_reminder_without_retrying(sms_patient, settings):
    settings.STRIDE_REMINDER_WEBHOOK_SECRET = ""
    reminder = Reminder.objects.get()

    assert reminder_send(reminder_id=reminder.pk, now=NOW) == "failed"

    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts) == ("failed", 1)
    assert "ImproperlyConfigured" in reminder.last_error
