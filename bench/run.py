"""The benchmark run: `make bench` (or `.venv/bin/python bench/run.py`).

One command, on PostgreSQL and Redis: resets the `stride_bench` database, migrates with
`bench.settings`, seeds a large clinic (bench/seed.py), starts gunicorn (2 sync workers, DEBUG
off, persistent connections) serving Stride and the bare baseline (bench/bare/) side by side,
and drives both with wrk on 127.0.0.1 in alternating A/B rounds so drift cancels. Query counts
are taken in-process. Prints the table and writes it into docs/benchmarks.md (between the
results markers; the rest of that file is kept). Benchmarks are never assertions: a missed
target is reported, not raised.

Options: --duration SECONDS per wrk run (10), --rounds (3), --connections (8), --quick (3 s,
1 round: a smoke run), --no-reminders, --no-doc (print only).
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
WRK_DIR = BENCH_DIR / "wrk"
DOC = ROOT / "docs" / "benchmarks.md"
OUT_DIR = Path(os.environ.get("BENCH_OUT", "/tmp/stride-bench"))
DB_NAME = os.environ.get("BENCH_DB", "stride_bench")
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DATABASE_URL = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}"
# A Redis database of its own: the run flushes it before and after.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RESULTS_START = "<!-- bench:results:start -->"
RESULTS_END = "<!-- bench:results:end -->"
WORKERS = 2
RSS_TARGET_MB = 150
PAIR_KEYS = ("upload", "retry", "list", "dashboard")
OVERVIEW_QUERY_TARGET = 15
AUDIT_INSERT = 'INSERT INTO "clinic_auditevent"'
WRITE_STATEMENT = re.compile(r"\b(INSERT\s+INTO|UPDATE\s|DELETE\s+FROM|COPY\s)", re.IGNORECASE)
CPU_SAMPLES = 21  # in-process requests timed per endpoint (the median is reported)
REMINDER_PATIENTS = 100_000
REMINDER_DELIVERIES = 2_000
REMINDERS_DATABASE_URL = f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{DB_NAME}_reminders"

# Production settings except what a load test must change: the secret, rates of the write
# throttles (the throttle still runs and still costs its cache round trips), log noise.
SERVER_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
    "DEBUG": "false",
    "CONN_MAX_AGE": "600",
    "STRIDE_READ_DOT_ENV": "false",
    "THROTTLE_SESSION_WRITE": "100000/s",
    "THROTTLE_SYNC": "100000/s",
    "THROTTLE_WRITE": "100000/s",
    "THROTTLE_LOGIN": "1000/min",
    "LOG_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}


# --- pure helpers (tests/bench/test_bench_smoke.py uses these) -------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_us: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int
    errors: dict[str, int] = field(default_factory=dict)
    # CPU ms per request under load, by process group (`cpu_split`), when it was measured.
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / (self.duration_us / 1e6) if self.duration_us else 0.0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def parse_wrk(output: str) -> WrkResult:
    """The summary line printed by bench/wrk/common.lua's done()."""
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line.removeprefix("BENCH_JSON "))
            errors = {
                key: data.pop(key) for key in ("connect", "read", "write", "status", "timeout")
            }
            return WrkResult(errors=errors, **data)
    raise ValueError(f"no BENCH_JSON line in wrk output:\n{output}")


# Process groups of the CPU split: the command names /proc gives (`comm`, at most 15 bytes).
CPU_GROUPS = {"postgres": "postgres", "redis-server": "redis", "wrk": "wrk"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_ticks(gunicorn_pids: set[int]) -> dict[int, tuple[str, int]]:
    """Per process: its group (the gunicorn workers, PostgreSQL's processes, Redis, wrk;
    everything else `other`) and the CPU ticks (user + system) it has used so far."""
    found: dict[int, tuple[str, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # pid (comm) state ...: comm may hold spaces and parentheses, so split at the last ')'.
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        pid = int(entry.name)
        found[pid] = ("gunicorn" if pid in gunicorn_pids else CPU_GROUPS.get(comm, "other"), ticks)
    return found


def cpu_split(
    before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], requests: int
) -> dict[str, float]:
    """CPU ms per request of each process group between two `process_cpu_ticks` readings.

    Counted per process: what it used between the readings, all of it for one that started
    meanwhile; one that exited meanwhile is missed (the bench's own processes live through a
    run: gunicorn, persistent connections, Redis; wrk's CPU comes from its rusage, under the
    key "wrk"). The few requests that check the workers are idle after each run are billed to
    it; the bench's own Python is under "other"."""
    if not requests:
        return {}
    totals: dict[str, int] = {}
    for pid, (group, ticks) in after.items():
        used = ticks - before[pid][1] if pid in before else ticks
        totals[group] = totals.get(group, 0) + used
    return {
        group: round(used * 1000 / CLOCK_TICKS / requests, 3)
        for group, used in sorted(totals.items())
    }


def parse_labelled_json(output: str) -> dict[str, Any]:
    """`label: {...json...}` blocks (possibly indented over many lines) -> {label: object}."""
    decoder = json.JSONDecoder()
    found: dict[str, Any] = {}
    for match in re.finditer(r"^([a-z][a-z _-]*):\s*(?=\{)", output, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(output, match.end())
        except ValueError:
            continue
        found[match.group(1).strip()] = value
    return found


def session_body(
    *, client_id: str, performed_at: dt.datetime, prescribed_exercise_ids: list[int]
) -> str:
    """A session upload as the patient app sends it: pain, difficulty and 5 exercise entries."""
    return json.dumps(
        {
            "client_id": client_id,
            "performed_at": performed_at.isoformat(),
            "pain_before": 4,
            "pain_after": 3,
            "difficulty": 5,
            "duration_minutes": 25,
            "notes": "Bench session.",
            "exercises": [
                {
                    "prescribed_exercise": pk,
                    "sets_done": 2,
                    "reps_done": 10,
                    "hold_seconds_done": 0,
                    "completed": index != 4,
                    "skipped_reason": "" if index != 4 else "Ran out of time",
                }
                for index, pk in enumerate(prescribed_exercise_ids)
            ],
        },
        separators=(",", ":"),
    )


def fmt_ms(us: float | None) -> str:
    if us is None:
        return "–"
    return f"{us / 1000:.1f}" if us < 100_000 else f"{us / 1000:.0f}"


# --- the machine and the services ----------------------------------------------------------


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def ensure_wrk() -> str:
    if path := shutil.which("wrk"):
        return path
    log("wrk is missing: apt-get install -y wrk")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def psql(sql: str, database: str = "postgres") -> str:
    return run(
        ["psql", "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", database, "-tAc", sql]
    ).stdout.strip()


def reset_database() -> None:
    psql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB_NAME}")


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_facts(wrk: str) -> dict[str, str]:
    import django
    import gunicorn
    import plotly
    import psycopg
    import rest_framework
    import rest_framework_simplejwt

    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    import redis

    redis_version = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    wrk_banner = subprocess.run([wrk, "-v"], text=True, capture_output=True, check=False)
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu} × {os.cpu_count()} cores",
        "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "simplejwt": getattr(rest_framework_simplejwt, "__version__", "?"),
        "psycopg": psycopg.__version__,
        "gunicorn": gunicorn.__version__,
        "plotly": plotly.__version__,
        "postgresql": psql("SHOW server_version"),
        "redis": redis_version,
        "wrk": (wrk_banner.stdout or "wrk").splitlines()[0].split(" [")[0],
    }


# --- the server ----------------------------------------------------------------------------


class Server:
    """gunicorn with 2 sync workers serving bench.settings on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = OUT_DIR / "gunicorn.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, **SERVER_ENV}
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "clinic.wsgi:application",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--backlog",
            "2048",
            "--timeout",
            "60",
            "--log-level",
            "warning",
            "--error-logfile",
            "-",
        ]
        self.log_file = self.log_path.open("w")
        self.process = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Ready when every worker has answered (workers load Django after the fork).
        answered: set[int] = set()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and self.process.poll() is None:
            answered |= self.drain()
            if len(answered) >= WORKERS and answered >= set(self.worker_pids()):
                return
        raise RuntimeError(f"gunicorn did not start; see {self.log_path}")

    def drain(self) -> set[int]:
        """Wait until the workers are idle; returns the pids that answered.

        wrk stops on time, but requests it already sent sit in the listen backlog and the
        workers still serve them: without this, a slow endpoint's leftovers would be billed to
        the next run. Calls queued behind them return once they are done.
        """

        def pid() -> int | None:
            try:
                status, content = http(f"{self.base}/bench/bare/pid/")
            except OSError:
                time.sleep(0.2)
                return None
            return json.loads(content)["pid"] if status == 200 else None

        with ThreadPoolExecutor(max_workers=WORKERS * 2) as pool:
            return set(pool.map(lambda _: pid(), range(WORKERS * 2))) - {None}

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def worker_memory_mb(self) -> list[dict[str, float]]:
        rows = []
        for pid in self.worker_pids():
            fields = {}
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in {"VmRSS", "VmHWM"}:
                    fields[key] = int(value.split()[0]) / 1024
            rows.append({"pid": pid, "rss_mb": fields["VmRSS"], "peak_mb": fields["VmHWM"]})
        return rows

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def http(
    url: str, *, method: str = "GET", body: str | None = None, headers: dict | None = None
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method, data=body.encode() if body else None)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    if body:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


# --- what is measured ----------------------------------------------------------------------


@dataclass
class Target:
    """One wrk load: a URL, a script, and the environment the script reads."""

    name: str
    path: str
    script: str
    env: dict[str, str] = field(default_factory=dict)
    expect: tuple[int, ...] = (200,)
    available: bool = True
    note: str = ""


@dataclass
class Pair:
    key: str
    label: str
    baseline: Target
    stride: Target
    target_ratio: float
    rounds: list[dict[str, Any]] = field(default_factory=list)


class Bench:
    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.wrk = ensure_wrk()
        self.server = Server()
        self.results: dict[str, Any] = {"notes": []}

    # Django in this process: migrate, seed, tokens, query counts.

    def setup_django(self) -> None:
        os.environ.update(SERVER_ENV)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def migrate_and_seed(self) -> None:
        from django.core.management import call_command

        from bench.seed import seed

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        self.results["migrate_seconds"] = round(time.perf_counter() - started, 1)
        self.seeded = seed()
        self.results["seed"] = asdict(self.seeded)
        log(
            f"migrated in {self.results['migrate_seconds']} s, seeded in "
            f"{self.seeded.seconds} s: {self.seeded.counts}"
        )

    def tokens(self) -> None:
        """JWTs through the login endpoint when it exists, else minted with simplejwt."""
        from django.contrib.auth import get_user_model

        from api.tokens import CallerRefreshToken as RefreshToken
        from bench.seed import BENCH_PASSWORD

        self.token = {}
        for role, username in (
            ("patient", self.seeded.uploader_username),
            ("therapist", self.seeded.large_therapist_username),
            ("small_therapist", self.seeded.small_therapist_username),
        ):
            body = json.dumps({"username": username, "password": BENCH_PASSWORD})
            status, content = http(
                f"{self.server.base}/api/v1/auth/token/", method="POST", body=body
            )
            if status == 200:
                self.token[role] = json.loads(content)["access"]
                self.results.setdefault("token_source", "POST /api/v1/auth/token/")
            else:
                user = get_user_model().objects.get(username=username)
                self.token[role] = str(RefreshToken.for_user(user).access_token)
                self.results["token_source"] = f"minted in-process (auth/token/ answered {status})"
        from django.test import Client

        client = Client()
        client.force_login(
            get_user_model().objects.get(username=self.seeded.large_therapist_username)
        )
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"

    def targets(self) -> list[Pair]:
        seeded = self.seeded
        patient_env = {"BENCH_TOKEN": self.token["patient"]}
        therapist_env = {"BENCH_TOKEN": self.token["therapist"]}
        performed_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
        upload_template = session_body(
            client_id="__CLIENT_ID__",
            performed_at=performed_at,
            prescribed_exercise_ids=seeded.uploader_prescribed_exercise_ids,
        )
        retry_body = session_body(
            client_id=str(uuid.uuid4()),
            performed_at=performed_at,
            prescribed_exercise_ids=seeded.uploader_prescribed_exercise_ids,
        )
        bare_create = Target("bare create", "/bench/bare/rows/", "bare_create.lua", expect=(201,))
        upload = Target(
            "session upload",
            "/api/v1/me/sessions/",
            "upload.lua",
            {**patient_env, "BENCH_BODY": upload_template},
            expect=(201,),
        )
        retry = Target(
            "retried upload",
            "/api/v1/me/sessions/",
            "retry.lua",
            {**patient_env, "BENCH_BODY": retry_body},
        )
        # The retry target needs its session stored once first.
        status, content = http(
            self.server.base + retry.path,
            method="POST",
            body=retry_body,
            headers={"Authorization": f"Bearer {self.token['patient']}"},
        )
        if status not in (200, 201):
            retry.available = False
            retry.note = f"first upload answered {status}: {content[:200]!r}"
        bare_list = Target(
            "bare list (50)", f"/bench/bare/rows/list/?owner={seeded.bare_owner_id}", "get.lua"
        )
        patient_list = Target(
            "therapist patient list (50)",
            "/api/v1/patients/?page_size=50",
            "get.lua",
            therapist_env,
        )
        bare_chart = Target("bare Plotly view (365 points)", "/bench/bare/chart/", "get.lua")
        dashboard = Target(
            "dashboard patient page (3 charts, 1 year)",
            f"/patients/{seeded.dashboard_patient_id}/",
            "get.lua",
            {"BENCH_COOKIE": self.cookie},
        )
        pairs = [
            Pair("upload", "Session upload (JWT, 5 entries)", bare_create, upload, 0.5),
            Pair("retry", "Retried upload (same client_id)", bare_create, retry, 1.0),
            Pair("list", "Therapist patient list, 50/page", bare_list, patient_list, 0.5),
            Pair("dashboard", "Dashboard patient page (1 year)", bare_chart, dashboard, 0.33),
        ]
        for pair in pairs:
            for target in (pair.baseline, pair.stride):
                if not target.available:
                    continue
                status, content = self.probe(target)
                if status not in target.expect:
                    target.available = False
                    target.note = f"answered {status} (expected {target.expect}): {content[:160]!r}"
                    log(f"{target.name}: {target.note}")
        return pairs

    def probe(self, target: Target) -> tuple[int, bytes]:
        headers = {}
        if token := target.env.get("BENCH_TOKEN"):
            headers["Authorization"] = f"Bearer {token}"
        if cookie := target.env.get("BENCH_COOKIE"):
            headers["Cookie"] = cookie
        body = target.env.get("BENCH_BODY")
        if target.script == "upload.lua":
            body = body.replace("__CLIENT_ID__", str(uuid.uuid4()))
        elif target.script == "bare_create.lua":
            body = '{"owner_id":1,"value":1,"label":"probe"}'
        method = "POST" if body else "GET"
        return http(self.server.base + target.path, method=method, body=body, headers=headers)

    # In-process query counts (Django's test client; CaptureQueriesContext).

    def query_counts(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        from patients.models import Patient
        from programs import row_cache

        def measure(
            client: Client,
            method: str,
            path: str,
            *,
            before: Callable[[], Any] | None = None,
            **extra: Any,
        ) -> dict[str, Any]:
            """The second of two identical requests (the first warms first-use caches).

            A body with __CLIENT_ID__ gets a fresh client_id each time (a new upload); a fixed
            body makes the second request a retry of the first. `before` runs ahead of every
            request, untimed (the list's cold case replaces the row tokens).
            """
            call: Callable = getattr(client, method)
            template = extra.pop("data", None)

            def send() -> Any:
                if isinstance(template, str):
                    extra["data"] = template.replace("__CLIENT_ID__", str(uuid.uuid4()))
                elif template is not None:
                    extra["data"] = template
                return call(path, **extra)

            ahead = before or (lambda: None)
            ahead()
            send()
            ahead()
            with CaptureQueriesContext(connection) as captured:
                response = send()
            # Transaction control (BEGIN, COMMIT, SET LOCAL for the audit row's asynchronous
            # commit) is not a query: counted apart. The audit's one-round-trip statement
            # (clinic/audit.py: its savepoint or transaction, commit mode and INSERT in one
            # string) counts as one query and one write.
            control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET ")
            every = [q["sql"] for q in captured.captured_queries]
            sql = [
                s
                for s in every
                if AUDIT_INSERT in s
                or not (s.lstrip().upper().startswith(control) or "synchronous_commit" in s)
            ]
            # CPU time of this process per request (Django, DRF, templates; not PostgreSQL's):
            # unlike req/s it barely moves when other processes compete for the cores. The
            # median, because the odd request that lost its caches to another process would
            # drag a mean.
            samples = []
            for _ in range(CPU_SAMPLES):
                ahead()
                cpu = time.process_time()
                send()
                samples.append(time.process_time() - cpu)
            cpu_ms = statistics.median(samples) * 1000
            return {
                "status": response.status_code,
                "cpu_ms": round(cpu_ms, 2),
                "queries": len(sql),
                "transaction_control": len(every) - len(sql),
                "touches_django_session": any("django_session" in s for s in sql),
                "touches_axes": any('"axes_' in s for s in sql),
                # Statements that write (a data-modifying WITH or a statement string with its
                # transaction control counts once).
                "writes": sum(bool(WRITE_STATEMENT.search(s)) for s in sql),
                "sql": sql,
            }

        counts: dict[str, Any] = {}
        api = Client(raise_request_exception=False)

        def bearer(role: str) -> dict[str, str]:
            return {"HTTP_AUTHORIZATION": f"Bearer {self.token[role]}"}

        counts["list_10"] = measure(
            api, "get", "/api/v1/patients/?page_size=50", **bearer("small_therapist")
        )
        counts["list_1000"] = measure(
            api, "get", "/api/v1/patients/?page_size=50", **bearer("therapist")
        )
        # Every row computed, none kept (programs.row_cache): before each request, every
        # patient's row token replaced, as if each had changed (the rest of the cache, the
        # retry target's kept answer among it, stays).
        every_patient = list(Patient.objects.values_list("pk", flat=True))
        for key, role in (("list_10_cold", "small_therapist"), ("list_1000_cold", "therapist")):
            counts[key] = measure(
                api,
                "get",
                "/api/v1/patients/?page_size=50",
                before=lambda: row_cache.rows_forget(every_patient),
                **bearer(role),
            )
        body = session_body(
            client_id="__CLIENT_ID__",
            performed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30),
            prescribed_exercise_ids=self.seeded.uploader_prescribed_exercise_ids,
        )
        counts["upload"] = measure(
            api,
            "post",
            "/api/v1/me/sessions/",
            data=body,
            content_type="application/json",
            **bearer("patient"),
        )
        retry = body.replace("__CLIENT_ID__", str(uuid.uuid4()))
        counts["retry"] = measure(
            api,
            "post",
            "/api/v1/me/sessions/",
            data=retry,
            content_type="application/json",
            **bearer("patient"),
        )
        web = Client(raise_request_exception=False)
        web.force_login(get_user_model().objects.get(username=self.seeded.large_therapist_username))
        counts["overview_1000"] = measure(web, "get", "/")
        counts["dashboard"] = measure(web, "get", f"/patients/{self.seeded.dashboard_patient_id}/")
        counts["bare_create"] = measure(
            api,
            "post",
            "/bench/bare/rows/",
            data={"owner_id": 1, "value": 1},
            content_type="application/json",
        )
        counts["bare_list"] = measure(api, "get", "/bench/bare/rows/list/?owner=1")
        counts["bare_chart"] = measure(api, "get", "/bench/bare/chart/")
        self.results["queries"] = counts
        connection.close()
        summary = {k: (v["status"], v["queries"], v["cpu_ms"]) for k, v in counts.items()}
        log(f"per request (status, queries, CPU ms in-process): {summary}")

    # wrk.

    def wrk_run(self, target: Target, seconds: float) -> WrkResult:
        env = {**os.environ, "BENCH_WRK_DIR": str(WRK_DIR), **target.env}
        cmd = [
            self.wrk,
            "-t",
            "2",
            "-c",
            str(self.options.connections),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_DIR / target.script),
            self.server.base + target.path,
        ]
        gunicorn = {self.server.process.pid, *self.server.worker_pids()}
        before = process_cpu_ticks(gunicorn)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        completed = subprocess.run(cmd, env=env, text=True, capture_output=True, check=False)
        # wrk has exited by the second reading: its CPU is what this process's children used.
        waited = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.server.drain()
        after = process_cpu_ticks(gunicorn)
        wrk_ticks = (
            waited.ru_utime + waited.ru_stime - children.ru_utime - children.ru_stime
        ) * CLOCK_TICKS
        after[-1] = ("wrk", round(wrk_ticks))  # a key no process has: counted whole
        if completed.returncode != 0:
            raise RuntimeError(
                f"wrk failed ({completed.returncode}): {completed.stdout}{completed.stderr}"
            )
        result = parse_wrk(completed.stdout)
        result.cpu_ms = cpu_split(before, after, result.requests)
        return result

    def load(self, pairs: list[Pair]) -> None:
        seconds = self.options.duration
        only = set(self.options.only.split(",")) if self.options.only else None
        runnable = [
            p
            for p in pairs
            if p.baseline.available and p.stride.available and (only is None or p.key in only)
        ]
        log(f"warm-up: {len(runnable) * 2} targets × {self.options.warmup} s")
        for pair in runnable:
            for target in (pair.baseline, pair.stride):
                self.wrk_run(target, self.options.warmup)
        self.results["rss_after_warmup"] = self.server.worker_memory_mb()
        for round_number in range(self.options.rounds):
            for pair in runnable:
                # A/B, then B/A in the next round: a slow drift hits both sides equally.
                order = ["baseline", "stride"]
                if round_number % 2:
                    order.reverse()
                measured = {}
                for side in order:
                    measured[side] = self.wrk_run(getattr(pair, side), seconds)
                pair.rounds.append(measured)
                a, b = measured["baseline"], measured["stride"]
                log(
                    f"round {round_number + 1} {pair.key}: bare {a.rps:.0f}/s, "
                    f"stride {b.rps:.0f}/s, ratio {b.rps / max(a.rps, 1e-9):.2f}"
                    + (f" (stride errors {b.errors})" if b.failed else "")
                    + (f" (bare errors {a.errors})" if a.failed else "")
                )
                log(f"  CPU ms per request: bare {a.cpu_ms}, stride {b.cpu_ms}")

    # Reminders: the reminders helper's own bench (bench/reminders_bench.py), as it is.

    def reminders(self) -> None:
        script = BENCH_DIR / "reminders_bench.py"
        if self.options.no_reminders:
            self.results["reminders"] = {"skipped": "--no-reminders"}
            return
        if not script.exists():
            self.results["reminders"] = {"skipped": "bench/reminders_bench.py is not there yet"}
            return
        log(f"reminder dispatch: bench/reminders_bench.py ({REMINDER_PATIENTS:,} patients)")
        env = {
            **os.environ,
            # Its own database, kept between runs (it re-seeds only when the size changes):
            # it truncates the patient tables it seeds.
            "BENCH_DATABASE_URL": REMINDERS_DATABASE_URL,
            "BENCH_REDIS_URL": REDIS_URL,
        }
        cmd = [
            sys.executable,
            str(script),
            "--patients",
            str(REMINDER_PATIENTS),
            "--deliver",
            str(REMINDER_DELIVERIES),
        ]
        started = time.perf_counter()
        completed = subprocess.run(
            cmd, cwd=ROOT, env=env, text=True, capture_output=True, timeout=900, check=False
        )
        sections = parse_labelled_json(completed.stdout)
        self.results["reminders"] = {
            "returncode": completed.returncode,
            "seconds": round(time.perf_counter() - started),
            "sections": sections,
            "output_tail": "\n".join((completed.stdout + completed.stderr).splitlines()[-25:]),
        }
        log(f"reminders: exit {completed.returncode}, {json.dumps(sections)[:400]}")

    # The whole run.

    def run(self) -> dict[str, Any]:
        started = time.perf_counter()
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        log(f"database {DB_NAME}, redis {REDIS_URL}, output {OUT_DIR}")
        self.results["loadavg_start"] = os.getloadavg()
        reset_database()
        flush_redis()
        self.setup_django()
        self.results["machine"] = machine_facts(self.wrk)
        self.migrate_and_seed()
        self.server.start()
        log(f"gunicorn on {self.server.base}, workers {self.server.worker_pids()}")
        try:
            self.tokens()
            pairs = self.targets()
            self.query_counts()
            self.load(pairs)
            self.results["pairs"] = [self.summarise(pair) for pair in pairs]
            self.results["rss"] = self.server.worker_memory_mb()
        finally:
            self.server.stop()
        self.results["loadavg_end_of_load"] = os.getloadavg()
        self.reminders()
        flush_redis()
        self.results["options"] = vars(self.options)
        self.results["seconds"] = round(time.perf_counter() - started)
        (OUT_DIR / "latest.json").write_text(json.dumps(self.results, indent=2, default=str))
        return self.results

    @staticmethod
    def summarise(pair: Pair) -> dict[str, Any]:
        def side(name: str) -> dict[str, Any]:
            target: Target = getattr(pair, name)
            runs: list[WrkResult] = [r[name] for r in pair.rounds]
            if not runs:
                return {"name": target.name, "available": target.available, "note": target.note}
            return {
                "name": target.name,
                "available": True,
                "rps": statistics.mean(r.rps for r in runs),
                "p50_us": statistics.median(r.p50_us for r in runs),
                "p99_us": statistics.median(r.p99_us for r in runs),
                "errors": sum(r.failed for r in runs),
                "rounds_rps": [round(r.rps, 1) for r in runs],
                "cpu_ms": {
                    group: statistics.median(r.cpu_ms.get(group, 0.0) for r in runs)
                    for group in sorted({g for r in runs for g in r.cpu_ms})
                },
            }

        ratios = [r["stride"].rps / r["baseline"].rps for r in pair.rounds if r["baseline"].rps]
        return {
            "key": pair.key,
            "label": pair.label,
            "target_ratio": pair.target_ratio,
            "baseline": side("baseline"),
            "stride": side("stride"),
            "ratio": statistics.median(ratios) if ratios else None,
            "ratio_range": [min(ratios), max(ratios)] if ratios else None,
        }


# --- the report ----------------------------------------------------------------------------


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    options = results["options"]
    seed = results["seed"]
    lines = [
        f"Run: {machine['date']} · {machine['cpu']} · {machine['memory']} RAM · {machine['os']}",
        "",
        f"Python {machine['python']}, Django {machine['django']}, DRF {machine['drf']}, "
        f"simplejwt {machine['simplejwt']}, psycopg {machine['psycopg']}, gunicorn "
        f"{machine['gunicorn']}, Plotly {machine['plotly']}, PostgreSQL {machine['postgresql']}, "
        f"Redis {machine['redis']}, {machine['wrk']}.",
        "",
        f"Load: wrk, 2 threads, {options['connections']} connections, {options['duration']} s "
        f"per run, {options['rounds']} alternating A/B rounds after a {options['warmup']} s "
        f"warm-up; gunicorn {WORKERS} sync workers, DEBUG off, CONN_MAX_AGE=600, all on "
        "127.0.0.1 (wrk, gunicorn and PostgreSQL share the cores). Ratio = Stride req/s ÷ "
        "bare req/s in the same round (median of rounds, range in brackets). Latencies in ms.",
        "",
        f"Data: {seed['counts'].get('patients')} patients, {seed['counts'].get('sessions'):,} "
        f"sessions, {seed['counts'].get('exercise_entries'):,} exercise entries, "
        f"{seed['counts'].get('measures'):,} outcome scores, {seed['counts'].get('alerts')} "
        f"alerts; migrate {results['migrate_seconds']} s, seed {seed['seconds']} s; whole run "
        f"{results['seconds'] // 60} min {results['seconds'] % 60} s.",
        "",
        load_line(results),
        "",
        "| Benchmark | Stride req/s | p50 | p99 | Baseline | req/s | p50 | p99 | Ratio | Target "
        "| |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for pair in results["pairs"]:
        a, b = pair["baseline"], pair["stride"]
        if pair["ratio"] is None:
            note = b.get("note") or a.get("note") or "not available"
            lines.append(
                f"| {pair['label']} | – | – | – | {a['name']} | – | – | – | – | "
                f"≥ {pair['target_ratio']}x | not run: {note[:120]} |"
            )
            continue
        low, high = pair["ratio_range"]
        errors = f" ({b['errors']} errors)" if b["errors"] else ""
        lines.append(
            f"| {pair['label']} | {b['rps']:.0f}{errors} | {fmt_ms(b['p50_us'])} | "
            f"{fmt_ms(b['p99_us'])} | {a['name']} | {a['rps']:.0f} | {fmt_ms(a['p50_us'])} | "
            f"{fmt_ms(a['p99_us'])} | {pair['ratio']:.2f}x ({low:.2f}–{high:.2f}) | "
            f"≥ {pair['target_ratio']}x | {verdict(pair['ratio'] >= pair['target_ratio'])} |"
        )
    lines += cpu_split_lines(results["pairs"])
    queries = results.get("queries", {})
    lines += [
        "",
        f"CPU per request in-process (Django's test client, median of {CPU_SAMPLES}; the "
        "application's own work, PostgreSQL and Redis excluded) — a load-independent view of "
        "the same comparison:",
        "",
        "| Request | Stride CPU ms | queries | Baseline | CPU ms | queries | CPU ratio |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for key, label, base in (
        ("upload", "Session upload", "bare_create"),
        ("retry", "Retried upload", "bare_create"),
        ("list_1000", "Patient list, 1,000 patients", "bare_list"),
        ("list_1000_cold", "Patient list, no row kept (tokens replaced)", "bare_list"),
        ("dashboard", "Dashboard patient page", "bare_chart"),
        ("overview_1000", "Clinic overview, 1,000 patients", None),
    ):
        item, bare = queries.get(key), queries.get(base) if base else None
        if not item or "cpu_ms" not in item:
            continue
        ratio = f"{bare['cpu_ms'] / item['cpu_ms']:.2f}x" if bare and item["cpu_ms"] else "–"
        lines.append(
            f"| {label} | {item['cpu_ms']:.1f} | {item['queries']} | {base or '–'} | "
            f"{format(bare['cpu_ms'], '.1f') if bare else '–'} | "
            f"{bare['queries'] if bare else '–'} | {ratio} |"
        )
    lines += ["", "| Check | Result | Target | |", "|---|---|---|---|"]
    for small_key, large_key, case in (
        ("list_10", "list_1000", "rows kept"),
        ("list_10_cold", "list_1000_cold", "no row kept"),
    ):
        small, large = queries.get(small_key), queries.get(large_key)
        if small and large and small["status"] == large["status"] == 200:
            lines.append(
                f"| Patient list queries, 10 → 1,000 patients ({case}) | {small['queries']} → "
                f"{large['queries']} | the same | "
                f"{verdict(small['queries'] == large['queries'])} |"
            )
        else:
            lines.append(f"| Patient list queries ({case}) | not available | the same | – |")
    overview = queries.get("overview_1000")
    if overview and overview["status"] == 200:
        lines.append(
            f"| Clinic overview queries, 1,000 patients | {overview['queries']} | "
            f"≤ {OVERVIEW_QUERY_TARGET} | "
            f"{verdict(overview['queries'] <= OVERVIEW_QUERY_TARGET)} |"
        )
    else:
        status = overview["status"] if overview else "?"
        lines.append(f"| Clinic overview queries | answered {status} | ≤ 15 | – |")
    for key, label in (("upload", "Session upload"), ("retry", "Retried upload")):
        item = queries.get(key)
        if item and item["status"] in (200, 201):
            lines.append(
                f"| {label}: queries, writes; touches django_session / axes | {item['queries']}, "
                f"{item['writes']}; {'yes' if item['touches_django_session'] else 'no'} / "
                f"{'yes' if item['touches_axes'] else 'no'} | no session, no axes | "
                f"{verdict(not item['touches_django_session'] and not item['touches_axes'])} |"
            )
    dashboard = queries.get("dashboard")
    if dashboard and dashboard["status"] == 200:
        lines.append(f"| Dashboard patient page queries | {dashboard['queries']} | – | – |")
    rss = results.get("rss") or []
    if rss:
        worst = max(row["rss_mb"] for row in rss)
        peaks = ", ".join(f"{row['rss_mb']:.0f} (peak {row['peak_mb']:.0f})" for row in rss)
        lines.append(
            f"| gunicorn worker RSS after the run, MB | {peaks} | < {RSS_TARGET_MB} | "
            f"{verdict(worst < RSS_TARGET_MB)} |"
        )
    lines += reminder_lines(results.get("reminders", {}))
    return "\n".join(lines)


def cpu_split_lines(pairs: list[dict[str, Any]]) -> list[str]:
    """Where the CPU went under load: ms per request by process (median of the rounds)."""
    groups = ("gunicorn", "postgres", "redis", "wrk", "other")
    rows = []
    for pair in pairs:
        for side in ("stride", "baseline"):
            split = pair[side].get("cpu_ms")
            if not split:
                continue
            total = sum(split.get(group, 0.0) for group in groups)
            cells = " | ".join(f"{split.get(group, 0.0):.2f}" for group in groups)
            rows.append(f"| {pair[side]['name']} | {cells} | {total:.2f} |")
    if not rows:
        return []
    return [
        "",
        "CPU per request under load, by process (ms; /proc readings around each wrk run, "
        "median of the rounds; the cores are shared, so the total is what a request costs the "
        "machine):",
        "",
        "| Request | gunicorn | PostgreSQL | Redis | wrk | other | total |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]


def load_line(results: dict[str, Any]) -> str:
    start, end = results.get("loadavg_start"), results.get("loadavg_end_of_load")
    if not start or not end:
        return "Machine load: not recorded."
    busy = max(start[0], end[0]) > (os.cpu_count() or 1)
    return (
        f"Machine load (1-minute load average): {start[0]:.1f} at the start, {end[0]:.1f} after "
        "the HTTP rounds"
        + (
            " — other processes were competing for the cores, so absolute req/s are low and "
            "noisy; the A/B ratios hold better."
            if busy
            else "."
        )
    )


def reminder_lines(reminders: dict[str, Any]) -> list[str]:
    label = f"Reminder dispatch, {REMINDER_PATIENTS:,} due (select, rows, enqueue)"
    if "skipped" in reminders:
        return [f"| {label} | skipped: {reminders['skipped']} | < 10 s | – |"]
    sections = reminders.get("sections") or {}
    dispatch, idle, delivery = (
        sections.get("dispatch"),
        sections.get("idle tick"),
        sections.get("delivery"),
    )
    if not dispatch:
        return [
            f"| {label} | no result (exit {reminders.get('returncode')}; see "
            f"{OUT_DIR / 'latest.json'}) | < 10 s | – |"
        ]
    rows = [
        f"| {label} | {dispatch['seconds']:.1f} s (SQL {dispatch.get('sql_seconds', 0):.1f} s, "
        f"{dispatch.get('queries')} queries, {dispatch.get('queued_in_redis', 0):,} queued) | "
        f"< 10 s | {verdict(dispatch['seconds'] < 10)} |"
    ]
    if idle:
        rows.append(
            f"| Reminder dispatch, next tick (nothing due) | {idle['seconds']:.2f} s, "
            f"{idle.get('queries')} queries | – | – |"
        )
    if delivery:
        rate = delivery["per_second"]
        rows.append(
            f"| Reminder delivery, 1 worker × 2 processes, recording channel | {rate:,.0f}/s "
            f"({delivery.get('delivered', 0):,} delivered) | ≥ 1,000/s | {verdict(rate >= 1000)} |"
        )
    return rows


DOC_TEMPLATE = f"""# Benchmarks

`make bench` (`.venv/bin/python bench/run.py`) runs everything below in one go on PostgreSQL and
Redis (about 10 minutes) and rewrites the block between the markers. Benchmarks are not tests:
CI does not run them, and nothing here is a timing assertion.

What is compared: each Stride request against the least Django + DRF can do for the same kind of
request, served by the same gunicorn workers behind the same middleware (`bench/bare/`, loaded
only by `bench.settings`): a one-row `ModelSerializer` create, a 50-row list over an indexed
filter, and a plain view returning one 365-point Plotly chart. A ratio is Stride's req/s over the
baseline's in the same round, so the machine's speed largely cancels out.

## Latest run

{RESULTS_START}
{RESULTS_END}

## Findings and fixes
"""


def write_doc(report: str) -> None:
    text = DOC.read_text() if DOC.exists() else DOC_TEMPLATE
    if RESULTS_START not in text or RESULTS_END not in text:
        text = DOC_TEMPLATE + "\n" + text
    head, _, rest = text.partition(RESULTS_START)
    _, _, tail = rest.partition(RESULTS_END)
    DOC.write_text(f"{head}{RESULTS_START}\n{report}\n{RESULTS_END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="3 s runs, 1 round: a smoke run")
    parser.add_argument("--no-reminders", action="store_true")
    parser.add_argument(
        "--only",
        help="comma-separated pairs (upload, retry, list, dashboard); prints only, like --no-doc",
    )
    parser.add_argument("--no-doc", action="store_true", help="print only; leave the doc alone")
    parser.add_argument("--from-json", type=Path, help="render a saved latest.json again (no run)")
    options = parser.parse_args(argv)
    if options.from_json:
        report = render(json.loads(options.from_json.read_text()))
        print(report)
        if not options.no_doc:
            write_doc(report)
        return 0
    if options.quick:
        options.duration, options.rounds, options.warmup = 3.0, 1, 1.0
    if options.only:
        unknown = set(options.only.split(",")) - set(PAIR_KEYS)
        if unknown:
            parser.error(f"--only: unknown {', '.join(sorted(unknown))} (pairs: {PAIR_KEYS})")
        options.no_doc = True  # a partial run never replaces the full one in the doc
    results = Bench(options).run()
    report = render(results)
    print("\n" + report + "\n")
    if not options.no_doc:
        write_doc(report)
        log(f"written to {DOC.relative_to(ROOT)}; raw results in {OUT_DIR / 'latest.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
