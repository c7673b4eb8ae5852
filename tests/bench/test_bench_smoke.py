"""The bench modules import and build their requests (no timing: CI does not run benchmarks)."""

import datetime as dt
import json

from bench import run


def test_session_body_is_an_upload_with_five_entries_and_a_client_id_placeholder():
    body = json.loads(
        run.session_body(
            client_id="__CLIENT_ID__",
            performed_at=dt.datetime(2025, 3, 1, 18, 30, tzinfo=dt.UTC),
            prescribed_exercise_ids=[1, 2, 3, 4, 5],
        )
    )

    assert body["client_id"] == "__CLIENT_ID__"
    assert body["performed_at"] == "2025-03-01T18:30:00+00:00"
    assert [entry["prescribed_exercise"] for entry in body["exercises"]] == [1, 2, 3, 4, 5]


def test_wrk_summary_line_is_parsed():
    output = (
        "Running 3s test @ http://127.0.0.1:1/\n"
        'BENCH_JSON {"requests":300,"duration_us":3000000,"p50_us":1500,"p90_us":2000,'
        '"p99_us":4000,"max_us":9000,"connect":0,"read":0,"write":0,"status":2,"timeout":0}\n'
    )

    result = run.parse_wrk(output)

    assert result.rps == 100
    assert result.p99_us == 4000
    assert result.failed == 2


def test_reminder_bench_sections_are_read_from_its_output():
    output = 'seeded 10 patients in 1 s\ndispatch: {\n  "seconds": 1.5,\n  "queries": 7\n}\n'

    assert run.parse_labelled_json(output) == {"dispatch": {"seconds": 1.5, "queries": 7}}


def test_cpu_split_counts_each_process_between_the_readings():
    from bench.run import CLOCK_TICKS, cpu_split

    before = {1: ("gunicorn", 100), 2: ("postgres", 50), 3: ("other", 400)}
    # 1 used 20 ticks, 2 used 10, 3 exited (missed, never negative), 4 started (all of it).
    after = {1: ("gunicorn", 120), 2: ("postgres", 60), 4: ("other", 5), -1: ("wrk", 8)}
    split = cpu_split(before, after, requests=10)
    ms = 1000 / CLOCK_TICKS / 10
    assert split == {
        "gunicorn": round(20 * ms, 3),
        "other": round(5 * ms, 3),
        "postgres": round(10 * ms, 3),
        "wrk": round(8 * ms, 3),
    }
    assert cpu_split(before, after, requests=0) == {}
