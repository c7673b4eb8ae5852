"""Reminders against a real Redis and real `celery worker` processes (not eager mode).

Each test starts its own worker (`python -m celery -A clinic worker`, prefork, 2 processes) on a
queue of its own, on a Redis database set apart for these tests (so a short visibility timeout
cannot touch anyone else's unacknowledged messages), reading the pytest PostgreSQL database.
Workers deliver through the recording channel: one file per delivery in `tmp_path`, counted
here from outside the worker. "Exactly once" is checked as: every reminder recorded, none twice.
"""

import base64
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import kombu.exceptions
import kombu.pools
import pytest
import redis
from celery import Celery
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.management import create_contenttypes
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from clinic.celery import app
from patients.models import Patient
from programs.delivery import DeliveryError, RecordingChannel
from programs.models import Reminder
from programs.reminders import dispatch, dispatch_due_reminders
from tests import factories

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TEST_BROKER_DB = 13  # set apart for these tests: workers here restore unacked messages fast
VISIBILITY_TIMEOUT = 3
SEND_TIME_LIMIT = 4  # seconds; a claim is abandoned after this plus a 2 s margin


@pytest.fixture(autouse=True)
def _content_types(transactional_db):
    # A test marked serialized_rollback flushes without post_migrate and leaves
    # django_content_type empty for the next transactional test in the process; creating an
    # audited model (django-auditlog) then violates a foreign key. Recreate them first.
    ContentType.objects.clear_cache()
    for app_config in apps.get_app_configs():
        create_contenttypes(app_config, verbosity=0)


def _broker_url(base: str, db: int) -> str:
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


def _configure_producer(url: str, routes: dict) -> None:
    """Point this process's producer (the dispatcher's enqueue) at `url` with `routes`."""
    kombu.pools.reset()  # closes and forgets the pooled connections of every broker URL
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url = url
    app.conf.task_routes = routes
    app.amqp.flush_routes()
    app.amqp.router = app.amqp.Router()


def _use_broker(url: str, queue: str) -> None:
    _configure_producer(
        url,
        {
            "programs.tasks.send_reminders_task": {"queue": queue},
            "programs.tasks.send_reminder_task": {"queue": queue},
        },
    )


class Broker:
    def __init__(self, url: str, queue: str) -> None:
        self.url = url
        self.queue = queue
        self.client = redis.Redis.from_url(url)

    def queued(self) -> int:
        """Messages waiting in the queue (one per batch of reminders)."""
        return self.client.llen(self.queue)

    def queued_reminders(self) -> Counter:
        """How often each reminder id appears in the waiting messages."""
        ids: Counter = Counter()
        for raw in self.client.lrange(self.queue, 0, -1):
            message = json.loads(raw)
            assert message["headers"]["task"] == "programs.tasks.send_reminders_task"
            args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            ids.update(args[0])
        return ids


@pytest.fixture
def broker():
    """A queue of its own on the test Redis database; this process publishes there."""
    url = _broker_url(settings.REDIS_URL, TEST_BROKER_DB)
    queue = f"reminders-test-{uuid.uuid4().hex[:10]}"
    previous = (app.conf.broker_url, app.conf.task_routes)
    _use_broker(url, queue)
    yield Broker(url, queue)
    _configure_producer(*previous)
    client = redis.Redis.from_url(url)
    # Leave nothing behind: a killed worker's unacknowledged messages would otherwise be
    # restored into this queue by the next test's worker.
    for tag, entry in client.hscan_iter("unacked"):
        if json.loads(entry)[2] == queue:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


class Worker:
    """One `celery worker` process group; killed or stopped by the test or the fixture."""

    def __init__(
        self, broker: Broker, record_dir: Path, log_dir: Path, delay: float, channel: str
    ) -> None:
        self.broker = broker
        self.record_dir = record_dir
        self.log_dir = log_dir
        self.delay = delay
        self.channel = channel
        self.process: subprocess.Popen | None = None
        self.name = ""

    def start(self) -> "Worker":
        self.name = f"reminders-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "clinic.settings",
            "STRIDE_READ_DOT_ENV": "false",
            "SECRET_KEY": "worker-test-secret-key",
            "DEBUG": "false",
            "DATABASE_URL": _database_url(),
            "CONN_MAX_AGE": "0",
            "REDIS_URL": self.broker.url,
            "CELERY_BROKER_URL": self.broker.url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
            "CELERY_UNACKED_RESTORE_INTERVAL": "1",
            "CELERY_UNACKED_RESTORE_THROTTLE": "1",
            "STRIDE_REMINDER_QUEUE": self.broker.queue,
            "STRIDE_REMINDER_CHANNELS": ",".join(
                f"{name}={self.channel}" for name in ("email", "sms", "push")
            ),
            "STRIDE_REMINDER_RECORD_DIR": str(self.record_dir),
            "STRIDE_REMINDER_RECORD_DELAY": str(self.delay),
            "STRIDE_REMINDER_SEND_TIME_LIMIT": str(SEND_TIME_LIMIT),
            "LOG_LEVEL": "INFO",
        }
        log = (self.log_dir / f"{self.name.split('@')[0]}.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "clinic",
                "worker",
                "--pool=prefork",
                "--concurrency=2",
                "-Q",
                self.broker.queue,
                "-n",
                self.name,
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: killpg reaches the children
        )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self, timeout: float = 30.0) -> None:
        control = Celery("stride-test-control", broker=self.broker.url, set_as_current=False)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise AssertionError(f"worker exited early:\n{self.log()}")
                try:
                    if control.control.ping(destination=[self.name], timeout=0.5):
                        return
                except (redis.ConnectionError, kombu.exceptions.OperationalError):
                    # A pooled connection from before a broker restart: the next try reconnects.
                    time.sleep(0.2)
            raise AssertionError(f"worker not ready after {timeout} s:\n{self.log()}")
        finally:
            control.close()

    def log(self) -> str:
        path = self.log_dir / f"{self.name.split('@')[0]}.log"
        return path.read_text(errors="replace")[-12000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole worker: the main process and its pool children, no cleanup."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def start_worker(transactional_db, broker, tmp_path):
    """Start workers on the test's queue; all stopped before the database is flushed."""
    workers: list[Worker] = []
    record_dir = tmp_path / "deliveries"
    record_dir.mkdir()

    def start(
        *, delay: float = 0.0, on: Broker | None = None, channel: str = "recording"
    ) -> Worker:
        worker = Worker(on or broker, record_dir, tmp_path, delay, channel)
        workers.append(worker)
        return worker.start()

    start.record_dir = record_dir
    yield start
    for worker in workers:
        worker.stop()


class FailOnceChannel(RecordingChannel):
    """The recording channel, but reminders of patients named Flaky fail their first attempt.

    The worker loads it by its dotted path; the marker file makes "first" hold across the
    worker's processes.
    """

    def send(self, reminder, message):
        if reminder.patient.first_name == "Flaky":
            marker = self.directory / "failed-once" / str(reminder.pk)
            marker.parent.mkdir(exist_ok=True)
            try:
                marker.touch(exist_ok=False)
            except FileExistsError:
                pass
            else:
                raise DeliveryError("provider timed out")
        super().send(reminder, message)


def delivered_ids(record_dir: Path) -> Counter:
    folder = record_dir / "delivered"
    if not folder.exists():
        return Counter()
    return Counter(json.loads(path.read_text())["reminder_id"] for path in folder.glob("*.json"))


def started_sends(record_dir: Path) -> list[tuple[int, float]]:
    """(reminder id, start time) of every send the recording channel began."""
    folder = record_dir / "started"
    if not folder.exists():
        return []
    sends = []
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        sends.append((int(path.name.split("-")[0]), json.loads(path.read_text())["at"]))
    return sends


def wait_for(condition, timeout: float, message: str, worker_logs=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    logs = "\n\n".join(worker.log() for worker in worker_logs)
    raise AssertionError(f"{message} (after {timeout} s)\n{logs}")


@pytest.fixture
def due_patients(clinic, therapist, exercises):
    def make(count: int) -> list:
        patients = []
        for n in range(count):
            patient = factories.create_patient(
                clinic=clinic,
                therapist=therapist,
                timezone_name="UTC",
                reminder_time=dt.time(0, 0),
                email=f"patient{n}@example.org",
            )
            factories.assign_custom_program(
                patient=patient,
                prescriber=therapist,
                exercises=exercises,
                start_date=dt.date(2026, 1, 1),
            )
            patients.append(patient)
        return patients

    return make


def all_sent(count: int):
    return lambda: Reminder.objects.filter(status="sent").count() == count


def test_dispatch_for_n_patients_delivers_exactly_n_messages(due_patients, start_worker, broker):
    due_patients(12)
    worker = start_worker()

    result = dispatch_due_reminders()

    assert result.created["session"] == 12
    wait_for(all_sent(12), 30, "not every reminder was sent", [worker])
    reminder_ids = set(Reminder.objects.values_list("pk", flat=True))
    deliveries = delivered_ids(start_worker.record_dir)
    assert set(deliveries) == reminder_ids
    assert set(deliveries.values()) == {1}
    assert set(Reminder.objects.values_list("attempts", flat=True)) == {1}
    assert broker.queued() == 0


def test_a_failed_delivery_is_retried_alone_and_the_rest_of_its_batch_goes_out_once(
    due_patients, start_worker, broker
):
    patients = due_patients(6)
    Patient.objects.filter(pk=patients[2].pk).update(first_name="Flaky")
    worker = start_worker(channel=f"{__name__}.FailOnceChannel")

    dispatch_due_reminders()  # one message: the six reminders are one batch

    wait_for(all_sent(6), 30, "not every reminder was sent", [worker])
    deliveries = delivered_ids(start_worker.record_dir)
    assert set(deliveries) == set(Reminder.objects.values_list("pk", flat=True))
    assert set(deliveries.values()) == {1}
    flaky = Reminder.objects.get(patient=patients[2])
    assert flaky.attempts == 2  # failed once, then sent by the retry message
    assert flaky.last_error == ""
    assert set(Reminder.objects.exclude(pk=flaky.pk).values_list("attempts", flat=True)) == {1}
    assert (start_worker.record_dir / "failed-once" / str(flaky.pk)).exists()


def test_dispatch_enqueues_one_message_per_batch_of_reminders(due_patients, broker, settings):
    settings.STRIDE_REMINDER_SEND_BATCH_SIZE = 4
    due_patients(10)

    result = dispatch_due_reminders()

    assert result.enqueued == 10
    assert broker.queued() == 3  # 4 + 4 + 2
    assert broker.queued_reminders() == Counter(Reminder.objects.values_list("pk", flat=True))


def test_a_worker_killed_mid_send_is_replaced_and_every_reminder_goes_out_once(
    due_patients, start_worker
):
    delay = 1.5
    due_patients(6)
    first = start_worker(delay=delay)
    dispatch_due_reminders()

    def sends_in_flight() -> set[int]:
        done = delivered_ids(start_worker.record_dir)
        return {pk for pk, _ in started_sends(start_worker.record_dir) if pk not in done}

    def safely_mid_send() -> bool:
        # Kill only while every unfinished send is well inside its sleep, so no delivery is
        # between "recorded" and "marked sent" (the window no system can close; see README).
        done = delivered_ids(start_worker.record_dir)
        now = time.time()
        ages = [now - at for pk, at in started_sends(start_worker.record_dir) if pk not in done]
        return bool(done) and bool(ages) and all(0.3 < age < delay - 0.4 for age in ages)

    wait_for(safely_mid_send, 20, "no moment with sends in flight", [first])
    first.kill()
    killed_mid_send = sends_in_flight()
    delivered_before = set(delivered_ids(start_worker.record_dir))
    assert killed_mid_send, "the kill should land while sending"
    assert set(
        Reminder.objects.filter(pk__in=killed_mid_send).values_list("status", flat=True)
    ) == {"sending"}

    second = start_worker(delay=0.2)
    wait_for(all_sent(6), 40, "reminders lost after the kill", [first, second])

    deliveries = delivered_ids(start_worker.record_dir)
    assert set(deliveries) == set(Reminder.objects.values_list("pk", flat=True))
    assert set(deliveries.values()) == {1}, f"delivered more than once: {deliveries}"
    assert delivered_before.isdisjoint(killed_mid_send)
    for reminder in Reminder.objects.filter(pk__in=killed_mid_send):
        assert reminder.attempts == 2  # claimed by the killed worker, then again


@pytest.fixture
def private_redis(tmp_path):
    """A Redis of our own (append-only file), which this test may restart."""
    if not shutil.which("redis-server"):
        pytest.fail("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "redis"
    data.mkdir()
    command = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--dir",
        str(data),
    ]
    client = redis.Redis(port=port)
    server: dict[str, subprocess.Popen] = {}

    def start() -> None:
        server["process"] = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for(_pings(client), 10, "private redis did not start")

    def restart() -> None:
        client.shutdown()  # flushes the append-only file, then exits
        server["process"].wait(10)
        start()

    start()
    start.restart = restart
    start.url = f"redis://127.0.0.1:{port}/0"
    yield start
    server["process"].terminate()
    server["process"].wait(10)
    client.close()


def _pings(client):
    def ping() -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    return ping


def test_a_redis_restart_between_dispatch_and_delivery_loses_nothing(
    due_patients, start_worker, broker, private_redis
):
    own = Broker(private_redis.url, broker.queue)
    _use_broker(own.url, own.queue)
    due_patients(8)

    dispatch_due_reminders()  # no worker yet: all 8 wait in Redis
    reminder_ids = set(Reminder.objects.values_list("pk", flat=True))
    assert own.queued_reminders() == Counter(reminder_ids)
    private_redis.restart()
    assert own.queued_reminders() == Counter(reminder_ids)

    workers = [start_worker(on=own, delay=0.3)]
    wait_for(lambda: delivered_ids(start_worker.record_dir), 20, "no delivery", workers)
    private_redis.restart()  # again, now with sends in flight and messages reserved

    def all_sent_under_a_supervisor() -> bool:
        # kombu may exit the worker on a live broker restart ("Unrecoverable error:
        # AttributeError ... 'hostname'" while restoring unacked messages; see the README).
        # Production runs workers under a supervisor (compose: restart: unless-stopped);
        # this is it. The messages wait in Redis meanwhile.
        if workers[-1].process.poll() is not None:
            workers.append(start_worker(on=own, delay=0.3))
        return all_sent(8)()

    wait_for(all_sent_under_a_supervisor, 45, "reminders lost after the Redis restart", workers)

    deliveries = delivered_ids(start_worker.record_dir)
    assert set(deliveries) == set(Reminder.objects.values_list("pk", flat=True))
    assert set(deliveries.values()) == {1}, f"delivered more than once: {deliveries}"


def test_two_dispatchers_at_the_same_moment_create_and_enqueue_each_reminder_once(
    due_patients, broker, monkeypatch
):
    due_patients(30)
    both_selected = threading.Barrier(2, timeout=10)
    insert = dispatch._insert_returning

    def insert_after_both_selected(*args, **kwargs):
        both_selected.wait()  # both runs hold the same 30 candidates before either inserts
        return insert(*args, **kwargs)

    monkeypatch.setattr(dispatch, "_insert_returning", insert_after_both_selected)
    now = dt.datetime.now(dt.UTC)
    results, errors = [], []

    def run() -> None:
        try:
            results.append(dispatch_due_reminders(now=now))
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors
    assert sorted(result.selected for result in results) == [30, 30]
    assert sorted(result.created["session"] for result in results) == [0, 30]
    assert Reminder.objects.count() == 30
    assert Reminder.objects.values("patient_id").distinct().count() == 30
    # Each reminder enqueued once, by the run that created it.
    assert broker.queued_reminders() == Counter(Reminder.objects.values_list("pk", flat=True))
