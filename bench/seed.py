"""Seed a large clinic for the benchmarks, reproducibly and fast (PostgreSQL only).

1,000 patients in one clinic; 200 of them with a year of near-daily sessions (about 70,000
sessions, 5 exercise entries each), the rest with a few weeks of sessions; outcome scores,
alerts; a 10-patient clinic for query counts at small size; one patient with a login who
uploads during the run; the bare baseline's rows. Small tables go in with bulk_create, the big
ones with COPY (psycopg `cursor.copy`). The same `seed` and `today` give the same data.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=postgres://... python bench/seed.py
"""

import datetime as dt
import json
import os
import random
import sys
import time
import uuid
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BENCH_PASSWORD = "bench-password-not-secret"
LARGE_SLUG, SMALL_SLUG = "bench-large", "bench-small"
UPLOADER_USERNAME = "bench-patient"
ENTRIES_PER_SESSION = 5
BARE_OWNERS, BARE_ROWS_PER_OWNER = 200, 200
TIMEZONES = ("America/New_York",) * 6 + ("America/Chicago", "America/Los_Angeles", "Europe/London")
FIRST = ("Ana", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea")
LAST = ("Abbott", "Baker", "Chen", "Diaz", "Evans", "Frost", "Garcia", "Hughes", "Ito", "Jones")


@dataclass
class SeedResult:
    """Ids the runner needs (JSON-serialisable)."""

    today: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    large_clinic_id: int = 0
    small_clinic_id: int = 0
    large_therapist_username: str = ""
    small_therapist_username: str = ""
    dashboard_patient_id: int = 0
    uploader_username: str = UPLOADER_USERNAME
    uploader_patient_id: int = 0
    uploader_prescription_id: int = 0
    uploader_prescribed_exercise_ids: list[int] = field(default_factory=list)
    bare_owner_id: int = 1


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _reset_identity(cursor: Any, table: str) -> None:
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
        f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
    )


def _next_id(cursor: Any, table: str) -> int:
    cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
    return cursor.fetchone()[0]


def _clamp(value: float, low: int = 0, high: int = 10) -> int:
    return max(low, min(high, round(value)))


class Seeder:
    def __init__(self, *, patients: int, year_patients: int, seed: int, today: dt.date) -> None:
        self.n_patients = patients
        self.n_year = min(year_patients, patients)
        self.rng = random.Random(seed)
        self.today = today
        self.result = SeedResult(today=today.isoformat())

    def uuid4(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    # --- small tables ---------------------------------------------------------------------

    def staff(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import make_password

        from clinic.models import Clinic, Practitioner

        user_model = get_user_model()
        password = make_password(BENCH_PASSWORD)
        self.large = Clinic.objects.create(
            name="Bench Large Clinic", slug=LARGE_SLUG, timezone="America/New_York"
        )
        self.small = Clinic.objects.create(
            name="Bench Small Clinic", slug=SMALL_SLUG, timezone="America/New_York"
        )
        specs = [(f"bench-therapist-{n}", self.large, "therapist") for n in range(10)]
        specs += [
            ("bench-admin", self.large, "admin"),
            ("bench-small-therapist", self.small, "therapist"),
        ]
        users = user_model.objects.bulk_create(
            [
                user_model(
                    username=username,
                    first_name="Bench",
                    last_name=username.rsplit("-", 1)[-1].title(),
                    email=f"{username}@bench.invalid",
                    password=password,
                )
                for username, _, _ in specs
            ]
        )
        practitioners = Practitioner.objects.bulk_create(
            [
                Practitioner(user=user, clinic=clinic, role=role, title="PT")
                for user, (_, clinic, role) in zip(users, specs, strict=True)
            ]
        )
        self.large_therapists = [p for p in practitioners if p.clinic_id == self.large.pk][:10]
        self.small_therapist = practitioners[-1]
        self.uploader_user = user_model.objects.create(
            username=UPLOADER_USERNAME, first_name="Una", last_name="Loader", password=password
        )
        self.result.large_clinic_id = self.large.pk
        self.result.small_clinic_id = self.small.pk
        self.result.large_therapist_username = specs[0][0]
        self.result.small_therapist_username = "bench-small-therapist"

    def library(self) -> None:
        from programs.models import Exercise, Protocol

        self.protocols: dict[str, Any] = {}
        for protocol in Protocol.objects.prefetch_related("phases__exercises").order_by("slug"):
            self.protocols.setdefault(protocol.condition, protocol)
        self.exercise_ids = list(Exercise.objects.order_by("id").values_list("id", flat=True))
        if not self.protocols or not self.exercise_ids:
            raise RuntimeError("The exercise library is empty: run the migrations first.")

    def patients(self) -> None:
        from patients.models import Patient

        rng = self.rng
        conditions = sorted(self.protocols)
        specs: list[tuple[Any, Any, int]] = []  # (clinic, therapist, start days ago)
        for index in range(self.n_patients):
            days_ago = 365 if index < self.n_year else rng.randint(1, 56)
            specs.append((self.large, self.large_therapists[index % 10], days_ago))
        uploader_index = len(specs)
        specs.append((self.large, self.large_therapists[0], 30))
        specs += [(self.small, self.small_therapist, rng.randint(7, 56)) for _ in range(10)]

        now = dt.datetime.now(dt.UTC)
        rows = []
        for index, (clinic, therapist, _) in enumerate(specs):
            condition = conditions[index % len(conditions)]
            # The last 5% of the large clinic are discharged.
            discharged = self.n_patients - self.n_patients // 20 <= index < self.n_patients
            rows.append(
                Patient(
                    clinic=clinic,
                    therapist=therapist,
                    user=self.uploader_user if index == uploader_index else None,
                    first_name=rng.choice(FIRST),
                    last_name=f"{rng.choice(LAST)}{index:04d}",
                    date_of_birth=dt.date(1940 + rng.randint(0, 50), rng.randint(1, 12), 15),
                    email=f"patient{index}@bench.invalid",
                    condition=condition,
                    side=rng.choice(("left", "right", "both")),
                    timezone=TIMEZONES[index % len(TIMEZONES)],
                    status="discharged" if discharged else "active",
                    discharged_at=now if discharged else None,
                    reminders_enabled=not discharged,
                    reminder_time=dt.time(rng.randint(7, 20), rng.choice((0, 15, 30, 45))),
                    reminder_channel=rng.choice(("email", "email", "sms", "push")),
                )
            )
        self.patient_rows = Patient.objects.bulk_create(rows, batch_size=2000)
        self.start_days_ago = [days for _, _, days in specs]
        self.year_indexes = range(self.n_year)
        self.uploader_index = uploader_index
        self.result.dashboard_patient_id = self.patient_rows[0].pk
        self.result.uploader_patient_id = self.patient_rows[uploader_index].pk

    def prescriptions(self) -> None:
        from programs.models import PrescribedExercise, Prescription, PrescriptionPeriod

        rng = self.rng
        prescriptions, periods_spec, exercises_spec = [], [], []
        for index, patient in enumerate(self.patient_rows):
            protocol = self.protocols[patient.condition]
            phases = sorted(protocol.phases.all(), key=lambda p: p.order)
            start = self.today - dt.timedelta(days=self.start_days_ago[index])
            weeks = (self.today - start).days // 7
            reached = [p for p in phases if p.start_week <= weeks] or phases[:1]
            current = reached[-1]
            phase_started_on = start + dt.timedelta(weeks=current.start_week)
            discharged = patient.status == "discharged"
            paused = not discharged and index % 37 == 5 and index != self.uploader_index
            prescriptions.append(
                Prescription(
                    patient=patient,
                    prescriber=patient.therapist,
                    protocol=protocol,
                    name=protocol.name,
                    current_phase=current,
                    start_date=start,
                    phase_started_on=phase_started_on,
                    sessions_per_week=current.sessions_per_week,
                    status="completed" if discharged else "paused" if paused else "active",
                    paused_on=self.today - dt.timedelta(days=3) if paused else None,
                    completed_on=max(self.today - dt.timedelta(days=2), phase_started_on)
                    if discharged
                    else None,
                )
            )
            periods_spec.append((reached, start, discharged, paused))
            phase_exercises = [pe.exercise_id for pe in current.exercises.all()]
            phase_exercises = phase_exercises[:ENTRIES_PER_SESSION]
            others = [e for e in self.exercise_ids if e not in phase_exercises]
            while len(phase_exercises) < ENTRIES_PER_SESSION:
                phase_exercises.append(others.pop(rng.randrange(len(others))))
            exercises_spec.append(phase_exercises)
        self.prescription_rows = Prescription.objects.bulk_create(prescriptions, batch_size=2000)

        periods = []
        for prescription, (reached, start, discharged, paused) in zip(
            self.prescription_rows, periods_spec, strict=True
        ):
            for position, phase in enumerate(reached):
                begins = start + dt.timedelta(weeks=phase.start_week)
                is_last = position == len(reached) - 1
                ends = (
                    None
                    if is_last
                    else start + dt.timedelta(weeks=reached[position + 1].start_week)
                )
                if is_last and discharged:
                    ends = prescription.completed_on
                periods.append(
                    PrescriptionPeriod(
                        prescription=prescription,
                        kind="phase",
                        phase=phase,
                        sessions_per_week=phase.sessions_per_week,
                        started_on=begins,
                        ended_on=ends,
                    )
                )
            if paused:
                periods.append(
                    PrescriptionPeriod(
                        prescription=prescription, kind="pause", started_on=prescription.paused_on
                    )
                )
        PrescriptionPeriod.objects.bulk_create(periods, batch_size=5000)

        entries = []
        for prescription, exercise_ids in zip(self.prescription_rows, exercises_spec, strict=True):
            added_at = dt.datetime.combine(prescription.start_date, dt.time.min, tzinfo=dt.UTC)
            added_at -= dt.timedelta(days=1)  # before any local midnight of the start date
            for order, exercise_id in enumerate(exercise_ids):
                entries.append(
                    PrescribedExercise(
                        prescription=prescription,
                        exercise_id=exercise_id,
                        order=order,
                        sets=rng.randint(2, 3),
                        reps=rng.choice((8, 10, 12, 15)),
                        hold_seconds=rng.choice((0, 0, 5, 30)),
                        added_at=added_at,
                    )
                )
        entry_rows = PrescribedExercise.objects.bulk_create(entries, batch_size=5000)
        self.prescribed_ids: dict[int, list[int]] = {}
        for entry in entry_rows:
            self.prescribed_ids.setdefault(entry.prescription_id, []).append(entry.pk)
        uploader_rx = self.prescription_rows[self.uploader_index]
        self.result.uploader_prescription_id = uploader_rx.pk
        self.result.uploader_prescribed_exercise_ids = self.prescribed_ids[uploader_rx.pk]

    # --- big tables (COPY) ---------------------------------------------------------------

    def sessions(self, cursor: Any) -> None:
        rng = self.rng
        session_id = _next_id(cursor, "programs_sessionlog")
        first_session_id = session_id
        sessions: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        for index, (patient, prescription) in enumerate(
            zip(self.patient_rows, self.prescription_rows, strict=True)
        ):
            tz = zoneinfo.ZoneInfo(patient.timezone)
            is_year = index < self.n_year
            show_up = 0.96 if is_year else rng.uniform(0.3, 0.95)
            baseline_pain = rng.uniform(4, 7)
            last_day = prescription.paused_on or prescription.completed_on or self.today
            span = (last_day - prescription.start_date).days
            phase_by_day = self._phase_lookup(prescription)
            entry_ids = self.prescribed_ids[prescription.pk]
            for offset in range(span):
                if rng.random() > show_up:
                    continue
                day = prescription.start_date + dt.timedelta(days=offset)
                local = dt.datetime.combine(day, dt.time(rng.randint(7, 20), rng.randint(0, 59)))
                performed_at = local.replace(tzinfo=tz).astimezone(dt.UTC)
                progress = offset / 365
                before = _clamp(baseline_pain - 3 * progress + rng.gauss(0, 0.8))
                after = _clamp(before + rng.choice((-1, 0, 0, 1)))
                sessions.append(
                    (
                        session_id,
                        prescription.pk,
                        patient.pk,
                        self.uuid4(),
                        performed_at,
                        day,
                        phase_by_day(day),
                        before,
                        after,
                        _clamp(rng.gauss(5, 1.5)),
                        rng.choice((15, 20, 25, 30)),
                        "",
                        "app",
                        performed_at,
                    )
                )
                for entry_id in entry_ids:
                    done = rng.random() < 0.9
                    entries.append(
                        (
                            session_id,
                            entry_id,
                            rng.randint(2, 3) if done else 0,
                            rng.choice((8, 10, 12)) if done else 0,
                            0,
                            done,
                            "" if done else "Ran out of time",
                        )
                    )
                session_id += 1
        self.result.counts["sessions"] = _copy(
            cursor,
            "programs_sessionlog",
            (
                "id",
                "prescription_id",
                "patient_id",
                "client_id",
                "performed_at",
                "local_date",
                "phase_id",
                "pain_before",
                "pain_after",
                "difficulty",
                "duration_minutes",
                "notes",
                "source",
                "created_at",
            ),
            sessions,
        )
        self.result.counts["exercise_entries"] = _copy(
            cursor,
            "programs_exerciselog",
            (
                "session_id",
                "prescribed_exercise_id",
                "sets_done",
                "reps_done",
                "hold_seconds_done",
                "completed",
                "skipped_reason",
            ),
            entries,
        )
        _reset_identity(cursor, "programs_sessionlog")
        assert session_id - first_session_id == self.result.counts["sessions"]

    def _phase_lookup(self, prescription: Any) -> Any:
        # The phase in force on a day, from the protocol's week ranges (as the periods were made).
        protocol = self.protocols[self.patient_by_id[prescription.patient_id].condition]
        phases = sorted(protocol.phases.all(), key=lambda p: p.order)
        start = prescription.start_date

        def phase_on(day: dt.date) -> int:
            weeks = (day - start).days // 7
            reached = [p for p in phases if p.start_week <= weeks] or phases[:1]
            return reached[-1].pk

        return phase_on

    def measures(self, cursor: Any) -> None:
        from patients import instruments

        rng = self.rng
        rows = []
        for index, (patient, prescription) in enumerate(
            zip(self.patient_rows, self.prescription_rows, strict=True)
        ):
            code = "koos_jr" if patient.condition == "patellofemoral_pain" else "hoos_jr"
            inst = instruments.get_instrument(code)
            span = (self.today - prescription.start_date).days
            months = span // 30 if index < self.n_year else min(1, span // 14)
            for month in range(months + 1):
                day = prescription.start_date + dt.timedelta(days=30 * month)
                level = min(4, max(0, round(3 - 3 * month / 12 + rng.gauss(0, 0.5))))
                answers = {key: level for key in inst.item_keys}
                result = instruments.score(code, answers)
                taken_at = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
                rows.append(
                    (
                        patient.pk,
                        code,
                        result.version,
                        json.dumps(answers),
                        result.raw,
                        result.score,
                        taken_at,
                        None,
                        None,
                        taken_at,
                    )
                )
                rows.append(
                    (
                        patient.pk,
                        "nprs",
                        instruments.get_instrument("nprs").version,
                        json.dumps({"pain": _clamp(6 - 4 * month / 12)}),
                        _clamp(6 - 4 * month / 12),
                        _clamp(6 - 4 * month / 12),
                        taken_at,
                        None,
                        None,
                        taken_at,
                    )
                )
        self.result.counts["measures"] = _copy(
            cursor,
            "patients_measureresponse",
            (
                "patient_id",
                "instrument",
                "instrument_version",
                "answers",
                "raw_score",
                "score",
                "taken_at",
                "recorded_by_id",
                "client_id",
                "created_at",
            ),
            rows,
        )

    def alerts(self) -> None:
        from programs.models import Alert

        rng = self.rng
        now = dt.datetime.now(dt.UTC)
        kinds = [
            ("low_adherence", "warning"),
            ("inactive", "warning"),
            ("pain_spike", "warning"),
            ("score_decline", "info"),
            ("red_flag", "urgent"),
        ]
        rows = []
        for index, patient in enumerate(self.patient_rows):
            if index == self.uploader_index:
                continue
            for kind, severity in kinds:
                chance = 0.02 if kind == "red_flag" else 0.06
                if rng.random() < chance:
                    rows.append(
                        Alert(
                            clinic_id=patient.clinic_id,
                            patient=patient,
                            kind=kind,
                            severity=severity,
                            message=f"Bench {kind.replace('_', ' ')}",
                            details={"bench": True},
                            opened_at=now - dt.timedelta(hours=rng.randint(1, 200)),
                        )
                    )
                if rng.random() < 0.1:  # an acknowledged one in the history
                    opened = now - dt.timedelta(days=rng.randint(10, 300))
                    rows.append(
                        Alert(
                            clinic_id=patient.clinic_id,
                            patient=patient,
                            kind=kind,
                            severity=severity,
                            message=f"Bench {kind.replace('_', ' ')} (seen)",
                            opened_at=opened,
                            acknowledged_at=opened + dt.timedelta(hours=5),
                            acknowledgement_note="Called the patient.",
                        )
                    )
        Alert.objects.bulk_create(rows, batch_size=5000)
        self.result.counts["alerts"] = len(rows)

    def bare_rows(self, cursor: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        rows = (
            (owner, n, f"row {n}", now)
            for n in range(BARE_ROWS_PER_OWNER)
            for owner in range(1, BARE_OWNERS + 1)
        )
        self.result.counts["bare_rows"] = _copy(
            cursor, "bare_barerow", ("owner_id", "value", "label", "created_at"), rows
        )

    def run(self) -> SeedResult:
        from django.db import connection, transaction

        started = time.perf_counter()
        with transaction.atomic():
            self.staff()
            self.library()
            self.patients()
            self.patient_by_id = {p.pk: p for p in self.patient_rows}
            self.prescriptions()
            self.alerts()
            with connection.cursor() as wrapper:
                cursor = wrapper.cursor  # the psycopg cursor, for COPY
                self.sessions(cursor)
                self.measures(cursor)
                self.bare_rows(cursor)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.result.counts["patients"] = len(self.patient_rows)
        self.result.seconds = round(time.perf_counter() - started, 1)
        return self.result


def seed(
    *,
    patients: int = 1000,
    year_patients: int = 200,
    seed: int = 2025,
    today: dt.date | None = None,
) -> SeedResult:
    """Fill an empty, migrated database; returns the ids the runner needs."""
    from django.conf import settings

    if not settings.USING_POSTGRES:
        raise RuntimeError("The bench seed needs PostgreSQL (COPY): set DATABASE_URL.")
    if today is None:
        today = dt.datetime.now(zoneinfo.ZoneInfo("America/New_York")).date()
    return Seeder(patients=patients, year_patients=year_patients, seed=seed, today=today).run()


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    result = seed()
    print(json.dumps(asdict(result), indent=2))


if __name__ == "__main__":
    main()
