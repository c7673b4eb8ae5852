"""Benchmark (not a test): reminder dispatch for 100,000 due patients on PostgreSQL and Redis.

Seeds a separate database (`stride_bench_reminders` by default; created if missing, migrated,
reused while the patient count matches), then times `dispatch_due_reminders`: selection, bulk
rows and enqueueing one `send_reminders_task` per batch of reminders into Redis, counting the SQL
queries. Then a second dispatch with nothing left to do (the cost of every 5-minute tick). With
`--deliver N`, a real worker (2 prefork processes, recording channel) delivers N reminders and
the rate is reported, with the CPU time per reminder of the worker's processes and of PostgreSQL
as a whole (a shared machine moves the rate; CPU time per reminder moves less).

    python bench/reminders_bench.py --patients 100000 --deliver 3000 --record docs/benchmarks.md

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/stride_bench_reminders)
and BENCH_REDIS_URL (default redis://127.0.0.1:6379/11; the run flushes that Redis database).
`bench/run.py` (`make bench`) runs this script too and reads its labelled JSON output.
"""

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stride_bench_reminders"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
QUEUE = "bench-reminders"
BENCH_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-only-not-secret",
    "STRIDE_READ_DOT_ENV": "false",
    "STRIDE_REMINDER_QUEUE": QUEUE,
    "DJANGO_SETTINGS_MODULE": "clinic.settings",
    "LOG_LEVEL": "WARNING",
}
os.environ.update(BENCH_ENV)

TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Helsinki",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Bangkok",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
)
CHANNELS = ("email",) * 8 + ("sms", "push")
BENCH_SLUG = "bench-reminders"


def ensure_database() -> None:
    import psycopg

    name = DATABASE_URL.rsplit("/", 1)[1]
    admin_url = DATABASE_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


ensure_database()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import DatabaseError, connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from clinic.celery import app  # noqa: E402
from clinic.models import Clinic, Practitioner  # noqa: E402
from patients.models import Patient  # noqa: E402
from programs.delivery import recorded_deliveries  # noqa: E402
from programs.models import (  # noqa: E402
    Exercise,
    PrescribedExercise,
    Prescription,
    Reminder,
    SessionLog,
)
from programs.reminders import dispatch_due_reminders  # noqa: E402


def seed(patients: int, history_days: int) -> float:
    """Patients all due now (reminder time 00:00, every weekday), with a few days of history."""
    clinic = Clinic.objects.filter(slug=BENCH_SLUG).first()
    if clinic and Patient.objects.filter(clinic=clinic).count() == patients:
        return 0.0
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE programs_reminder, programs_sessionlog, programs_exerciselog, "
            "programs_prescribedexercise, programs_prescriptionperiod, programs_prescription, "
            "programs_alert, patients_patient CASCADE"
        )
    from django.contrib.auth import get_user_model

    clinic, _ = Clinic.objects.get_or_create(slug=BENCH_SLUG, defaults={"name": "Bench Clinic"})
    user, _ = get_user_model().objects.get_or_create(
        username="bench-therapist", defaults={"email": "bench-therapist@example.org"}
    )
    therapist, _ = Practitioner.objects.get_or_create(user=user, defaults={"clinic": clinic})
    exercises = [
        Exercise.objects.get_or_create(
            slug=f"bench-exercise-{n}",
            defaults={"name": f"Bench exercise {n}", "category": "strength", "instructions": "."},
        )[0]
        for n in range(3)
    ]
    now = timezone.now()
    Patient.objects.bulk_create(
        (
            Patient(
                clinic=clinic,
                therapist=therapist,
                first_name=f"P{n}",
                last_name="Bench",
                email=f"p{n}@example.org",
                phone="+15550100",
                condition="hip_osteoarthritis",
                side="left",
                timezone=TIMEZONES[n % len(TIMEZONES)],
                reminder_time=dt.time(0, 0),
                reminder_channel=CHANNELS[n % len(CHANNELS)],
            )
            for n in range(patients)
        ),
        batch_size=5000,
    )
    patient_rows = list(Patient.objects.filter(clinic=clinic).values_list("pk", "timezone"))
    start = now.date() - dt.timedelta(days=30)
    Prescription.objects.bulk_create(
        (
            Prescription(
                patient_id=pk,
                prescriber=therapist,
                name="Bench program",
                start_date=start,
                phase_started_on=start,
                sessions_per_week=7,
            )
            for pk, _ in patient_rows
        ),
        batch_size=5000,
    )
    prescriptions = dict(
        Prescription.objects.filter(patient__clinic=clinic).values_list("patient_id", "pk")
    )
    PrescribedExercise.objects.bulk_create(
        (
            PrescribedExercise(
                prescription_id=prescription_id,
                exercise=exercise,
                order=order,
                sets=2,
                reps=10,
            )
            for prescription_id in prescriptions.values()
            for order, exercise in enumerate(exercises)
        ),
        batch_size=5000,
    )
    # History: a sent reminder every past day; a session on two days out of three.
    for days_ago in range(2, 2 + history_days):
        day = now.date() - dt.timedelta(days=days_ago)
        Reminder.objects.bulk_create(
            (
                Reminder(
                    patient_id=pk,
                    local_date=day,
                    channel="email",
                    status=Reminder.Status.SENT,
                    sent_at=now - dt.timedelta(days=days_ago),
                    attempts=1,
                )
                for pk, _ in patient_rows
            ),
            batch_size=5000,
        )
        SessionLog.objects.bulk_create(
            (
                SessionLog(
                    prescription_id=prescriptions[pk],
                    patient_id=pk,
                    client_id=uuid.uuid4(),
                    performed_at=now - dt.timedelta(days=days_ago),
                    local_date=day,
                )
                for pk, _ in patient_rows
                if (pk + days_ago) % 3
            ),
            batch_size=5000,
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def reset_today() -> None:
    """Forget the rows earlier runs created (history rows have no dispatch id), empty Redis."""
    Reminder.objects.filter(dispatch_id__isnull=False).delete()
    broker().flushdb()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE programs_reminder")


def broker():
    import redis

    return redis.Redis.from_url(REDIS_URL)


def timed_dispatch() -> dict:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = dispatch_due_reminders()
        seconds = time.perf_counter() - started
    sql_seconds = sum(float(q["time"]) for q in queries.captured_queries)
    return {
        "seconds": round(seconds, 2),
        "sql_seconds": round(sql_seconds, 2),
        "queries": len(queries.captured_queries),
        "result": result.as_dict(),
        "queued_in_redis": broker().llen(QUEUE),
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stats() -> dict[int, list[str]]:
    """/proc/<pid>/stat of every process, fields after the command name (state is [0])."""
    stats = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = (
                    Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
                )
            except OSError:
                continue
    return stats


def _cpu(fields: list[str], *, children: bool = False) -> float:
    """User + system CPU seconds; with `children`, also those of its reaped children."""
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def _postmaster_pid() -> int | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW data_directory")
            data_directory = cursor.fetchone()[0]
        return int(Path(data_directory, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, DatabaseError):
        return None  # not a superuser, or PostgreSQL runs elsewhere


def _cpu_snapshot(worker_pid: int, postmaster: int | None) -> dict[str, float | None]:
    """CPU seconds so far: the worker (its session: main process and pool), all of PostgreSQL
    (live processes, plus backends that exited: the postmaster reaps them) and the machine."""
    stats = _proc_stats()
    postgres = None
    if postmaster in stats:
        postgres = _cpu(stats[postmaster], children=True) + sum(
            _cpu(fields) for fields in stats.values() if int(fields[1]) == postmaster
        )
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(value) for value in Path("/proc/stat").read_text().split()[1:9]
    )
    return {
        "worker": sum(_cpu(fields) for fields in stats.values() if int(fields[3]) == worker_pid),
        "postgres": postgres,
        "machine": (user + nice + system + irq + softirq + steal) / CLOCK_TICKS,
    }


def deliver(count: int) -> dict:
    """Start one worker (2 processes) with the recording channel; time `count` deliveries."""
    record_dir = Path(tempfile.mkdtemp(prefix="stride-bench-deliveries-"))
    env = {
        **os.environ,
        **BENCH_ENV,
        "STRIDE_REMINDER_CHANNELS": "email=recording,sms=recording,push=recording",
        "STRIDE_REMINDER_RECORD_DIR": str(record_dir),
        "CONN_MAX_AGE": "600",
    }
    worker = subprocess.Popen(
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
            QUEUE,
            "--loglevel=WARNING",
            "-n",
            f"bench-{uuid.uuid4().hex[:8]}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    delivered_dir = record_dir / "delivered"
    postmaster = _postmaster_pid()

    def delivered() -> int:
        # Counted without reading the files: this loop shares the CPUs with the worker.
        return sum(1 for _ in os.scandir(delivered_dir)) if delivered_dir.exists() else 0

    try:
        first = None
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = delivered()
            if done and first is None:
                # From the first delivery: no startup time.
                first = (time.perf_counter(), done, _cpu_snapshot(worker.pid, postmaster))
            if done >= count:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - first[0]
        cpu_end = _cpu_snapshot(worker.pid, postmaster)
        done_at_end = delivered()
        done = len(recorded_deliveries(record_dir))
        in_window = done_at_end - first[1]
        rate = in_window / elapsed if elapsed else 0.0
        cpu = {
            key: None if first[2][key] is None else cpu_end[key] - first[2][key] for key in cpu_end
        }
        return {
            "delivered": done,
            "seconds": round(elapsed, 2),
            "per_second": round(rate, 1),
            "cpu_ms_per_reminder": {
                "worker": round(cpu["worker"] / in_window * 1000, 3),
                # All of PostgreSQL, so anything else using it meanwhile counts too.
                "postgres_all_databases": (
                    None
                    if cpu["postgres"] is None
                    else round(cpu["postgres"] / in_window * 1000, 3)
                ),
            },
            # Everything else running meanwhile shows here: 2 cores give 2 s per second.
            "machine_busy_cores": round(cpu["machine"] / elapsed, 2) if elapsed else None,
        }
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        shutil.rmtree(record_dir, ignore_errors=True)
        broker().flushdb()


def versions() -> str:
    import celery
    import kombu

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    redis_version = broker().info("server")["redis_version"]
    return (
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"Celery {celery.__version__}, kombu {kombu.__version__}, PostgreSQL {postgres}, "
        f"Redis {redis_version}"
    )


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} vCPU {cpu}{memory}"


def record(path: Path, patients: int, first: dict, idle: dict, delivery: dict | None) -> None:
    if not path.exists():
        path.write_text(
            "# Benchmarks\n\n"
            "Numbers from `bench/` scripts on the machines named in each row. Not tests: they "
            "measure, they do not assert.\n"
        )
    text = path.read_text()
    header = "## Reminder dispatch (`bench/reminders_bench.py`)"
    if header not in text:
        text += (
            f"\n{header}\n\n"
            "One `dispatch_due_reminders()` with every patient due: selection, `Reminder` rows "
            "(bulk), and one `send_reminders_task` message per batch of reminders enqueued "
            "into Redis. "
            '"Idle tick" is the next dispatch, with nothing left to do. Delivery: one '
            "`celery worker --concurrency=2` to the recording channel.\n\n"
            "| date | machine | versions | due patients | dispatch | queries | idle tick "
            "| delivery |\n|---|---|---|---|---|---|---|---|\n"
        )
    delivered = f"{delivery['per_second']:,.0f}/s ({delivery['delivered']:,})" if delivery else "—"
    text += (
        f"| {timezone.now():%Y-%m-%d} | {machine()} | {versions()} | {patients:,} "
        f"| {first['seconds']} s (SQL {first['sql_seconds']} s), "
        f"{first['queued_in_redis']:,} queued | {first['queries']} "
        f"| {idle['seconds']} s, {idle['queries']} queries | {delivered} |\n"
    )
    path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--history-days", type=int, default=3)
    parser.add_argument("--deliver", type=int, default=0, help="deliveries to time (0: skip)")
    parser.add_argument("--record", type=Path, help="append a row to this Markdown file")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    seeded = seed(args.patients, args.history_days)
    if seeded:
        print(f"seeded {args.patients:,} patients in {seeded:.0f} s")
    reset_today()
    assert not settings.CELERY_TASK_ALWAYS_EAGER, "the benchmark enqueues into Redis"
    first = timed_dispatch()
    print("dispatch:", json.dumps(first, indent=2))
    idle = timed_dispatch()
    print("idle tick:", json.dumps(idle, indent=2))
    delivery = deliver(args.deliver) if args.deliver else None
    if delivery:
        print("delivery:", json.dumps(delivery, indent=2))
    if args.record:
        record(args.record, args.patients, first, idle, delivery)
    app.pool.force_close_all()


if __name__ == "__main__":
    main()
