"""Profile one benchmarked request in-process with pyinstrument (after a `bench/run.py`).

Uses the database the last run seeded (kept after the run) and Django's test client, so it
sees the same data and middleware as gunicorn did.

    .venv/bin/pip install pyinstrument   # ad hoc, not a project dependency
    .venv/bin/python bench/profiling.py dashboard|list|upload|retry|overview|bare_chart [-n 20]
    .venv/bin/python bench/profiling.py times [--only upload,retry] [-n 50]   # CPU ms, no profiler

CPU time (not wall time) is what `times` reports: it holds still on a busy machine.
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import SERVER_ENV, session_body  # noqa: E402

TARGETS = (
    "dashboard",
    "dashboard_cold",
    "list_cold",
    "list",
    "upload",
    "retry",
    "overview",
    "bare_chart",
    "bare_list",
    "bare_create",
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=(*TARGETS, "times"))
    parser.add_argument("-n", type=int, default=20, help="requests profiled (after 2 warm-up)")
    parser.add_argument("--html", type=Path, help="also write pyinstrument's HTML here")
    parser.add_argument(
        "--cprofile",
        metavar="SORT",
        help="cProfile on CPU time instead (sort: cumulative, tottime)",
    )
    parser.add_argument("--limit", type=int, default=40, help="rows of --cprofile output")
    parser.add_argument("--only", help="times: comma-separated targets (default: all)")
    options = parser.parse_args()

    os.environ.update(SERVER_ENV)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.test import Client
    from pyinstrument import Profiler

    from api.tokens import CallerRefreshToken as RefreshToken
    from bench.seed import LARGE_SLUG, UPLOADER_USERNAME
    from clinic.models import Practitioner
    from patients.models import Patient
    from programs import row_cache
    from programs.models import PrescribedExercise

    users = get_user_model().objects
    therapist = Practitioner.objects.filter(clinic__slug=LARGE_SLUG).order_by("id").first().user
    uploader = users.get(username=UPLOADER_USERNAME)
    client = Client(raise_request_exception=True)  # the dashboard, logged in
    client.force_login(therapist)
    api = Client(raise_request_exception=True)  # JWT only: no session cookie
    therapist_auth = {
        "HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(therapist).access_token}"
    }
    patient_auth = {"HTTP_AUTHORIZATION": f"Bearer {RefreshToken.for_user(uploader).access_token}"}
    dashboard_patient = Patient.objects.filter(clinic__slug=LARGE_SLUG).order_by("id").first()
    first_page = list(
        Patient.objects.filter(clinic__slug=LARGE_SLUG)
        .order_by("last_name", "first_name", "id")
        .values_list("pk", flat=True)[:50]
    )
    entry_ids = list(
        PrescribedExercise.objects.filter(prescription__patient__user=uploader, active=True)
        .order_by("order")
        .values_list("pk", flat=True)
    )
    retry_id = str(uuid.uuid4())

    def upload_body(client_id: str) -> str:
        return session_body(
            client_id=client_id,
            performed_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30),
            prescribed_exercise_ids=entry_ids,
        )

    requests = {
        "dashboard": lambda: client.get(f"/patients/{dashboard_patient.pk}/"),
        # The same page on a first view: the per-patient progress cache emptied before each.
        "dashboard_cold": lambda: (cache.clear(), client.get(f"/patients/{dashboard_patient.pk}/"))[
            1
        ],
        "overview": lambda: client.get("/"),
        "list": lambda: api.get("/api/v1/patients/?page_size=50", **therapist_auth),
        # The same page with no row kept (programs.row_cache): the page's row tokens
        # replaced before each (timed with it: one pipeline of 50 SETs).
        "list_cold": lambda: (
            row_cache.rows_forget(first_page),
            api.get("/api/v1/patients/?page_size=50", **therapist_auth),
        )[1],
        "upload": lambda: api.post(
            "/api/v1/me/sessions/",
            upload_body(str(uuid.uuid4())),
            content_type="application/json",
            **patient_auth,
        ),
        "retry": lambda: api.post(
            "/api/v1/me/sessions/",
            upload_body(retry_id),
            content_type="application/json",
            **patient_auth,
        ),
        "bare_chart": lambda: api.get("/bench/bare/chart/"),
        "bare_create": lambda: api.post(
            "/bench/bare/rows/",
            {"owner_id": 1, "value": 1, "label": "profile"},
            content_type="application/json",
        ),
        "bare_list": lambda: api.get("/bench/bare/rows/list/?owner=1"),
    }
    if options.target == "times":
        # Median and minimum of per-request CPU: on a shared machine the mean is dragged by
        # the odd request that lost its cache to another process.
        for name, send in requests.items():
            if options.only and name not in options.only.split(","):
                continue
            for _ in range(2):
                send()
            cpu_ms, wall_ms = [], []
            for _ in range(options.n):
                cpu, wall = time.process_time(), time.perf_counter()
                send()
                cpu_ms.append((time.process_time() - cpu) * 1000)
                wall_ms.append((time.perf_counter() - wall) * 1000)
            print(
                f"{name:<11} {statistics.median(cpu_ms):7.2f} ms CPU median "
                f"(min {min(cpu_ms):6.2f})  {statistics.median(wall_ms):7.2f} ms wall median  "
                "per request (in-process, this process)"
            )
        return
    send = requests[options.target]
    if options.cprofile:
        # CPU time, not wall time: on a busy machine a sampling profiler bills other
        # processes' time slices to whatever line this one was preempted on.
        import cProfile
        import pstats

        for _ in range(2):
            send()
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(options.n):
            send()
        profile.disable()
        stats = pstats.Stats(profile)
        if os.environ.get("BENCH_PSTATS"):  # raw statistics, for a tool of one's own
            stats.dump_stats(os.environ["BENCH_PSTATS"])
        stats.sort_stats(options.cprofile).print_stats(options.limit)
        return
    for _ in range(2):
        response = send()
        assert response.status_code in (200, 201), (response.status_code, response.content[:300])
    profiler = Profiler(interval=0.0005)
    started = time.perf_counter()
    with profiler:
        for _ in range(options.n):
            send()
    elapsed = time.perf_counter() - started
    print(f"{options.target}: {elapsed / options.n * 1000:.1f} ms per request in-process")
    show_all = bool(os.environ.get("SHOW_ALL"))
    print(profiler.output_text(unicode=True, color=False, show_all=show_all))
    if options.html:
        options.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
