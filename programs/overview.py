"""The figures of a patient-list row, from plain values in three queries for any number of rows.

One implementation for every list of patients (the API's patient list, the dashboard's
overview, the weekly digest, the adherence export): which program a row shows, recent
adherence, last session and its pain, pain direction over two weeks and open alerts.

The reads are hand-written SQL in the common subset of PostgreSQL and SQLite. They run on
every request of the patient list, where building and compiling the equivalent ORM queries
(five correlated subqueries, a conditional aggregate) cost ~5 ms of CPU per request, more
than running them: the SQL is built once per process, and its rows are tuples, not model
instances. What they compute is the ORM's own rules, restated (tests check them against
`recent_adherence`, `current_prescription` and DRF's rendering of model instances):

- the program shown: the open one (active or paused) with the latest start, else the latest;
- a session's pain: the pain after exercise if given, else the pain before
  (`pain.session_pain_value`);
- open alerts: not acknowledged; the top severity is the most urgent of them.
"""

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

from django.db import connection
from django.utils import timezone

from clinic import prepared
from clinic.models import Clinic, Practitioner
from patients.models import Patient

from .adherence import ONE_DAY, Schedule, window_from_days
from .models import (
    Alert,
    Prescription,
    PrescriptionPeriod,
    Protocol,
    ProtocolPhase,
    SessionLog,
)
from .pain import TREND_DAYS, DailyPain, trend_direction

SEVERITY_RANK = {Alert.Severity.URGENT: 0, Alert.Severity.WARNING: 1, Alert.Severity.INFO: 2}
OPEN_STATUSES = (Prescription.Status.ACTIVE, Prescription.Status.PAUSED)


class ProgramColumns(NamedTuple):
    """The program a row shows: its own columns, its protocol's and its current phase's."""

    id: int
    name: str
    status: str
    start_date: dt.date
    phase_started_on: dt.date
    sessions_per_week: int
    paused_on: dt.date | None
    completed_on: dt.date | None
    protocol_id: int | None
    protocol_slug: str | None
    protocol_name: str | None
    phase_id: int | None
    phase_order: int | None
    phase_name: str | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class OverviewHead(NamedTuple):
    """One value per patient: who, the program shown, the last session, open alerts."""

    patient_id: int
    first_name: str
    last_name: str
    condition: str
    side: str
    status: str
    timezone: str
    therapist_id: int
    therapist_title: str
    therapist_role: str
    therapist_name: str  # as `Practitioner.display_name`: full name, else username
    program: ProgramColumns | None
    last_on: dt.date | None
    last_pain: int | None
    open_alerts: int
    top_severity: str | None


@dataclass(frozen=True, slots=True)
class PatientFigures:
    today: dt.date
    weeks_since_start: int | None
    adherence_recent: float | None
    last_session_on: dt.date | None
    latest_pain: int | None
    pain_direction: str | None
    open_alerts: int
    top_severity: str | None


def _table(model: type) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _in(column: str, values: Sequence[int]) -> tuple[str, list[Any]]:
    """`column` among the ids `values`: one array parameter on PostgreSQL (the statement's
    text stays the same whatever the page, and the driver parses one placeholder, not 50),
    else IN. The array goes as its text: psycopg would adapt a list element by element."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s::bigint[])", ["{" + ",".join(str(int(v)) for v in values) + "}"]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


@cache
def _heads_sql() -> str:
    q = connection.ops.quote_name
    open_statuses = ", ".join(f"'{status}'" for status in OPEN_STATUSES)
    urgency = " ".join(f"WHEN '{severity}' THEN {rank}" for severity, rank in SEVERITY_RANK.items())
    sessions, alerts = _table(SessionLog), _table(Alert)
    latest_session = (
        f"FROM {sessions} s WHERE s.patient_id = pt.id "
        "ORDER BY s.performed_at DESC, s.id DESC LIMIT 1"
    )
    open_alert = f"FROM {alerts} a WHERE a.patient_id = pt.id AND a.acknowledged_at IS NULL"
    return f"""
        SELECT pt.id, pt.first_name, pt.last_name, pt.condition, pt.side, pt.status,
            pt.timezone, th.id, th.title, th.role, u.first_name, u.last_name, u.username,
            pr.id, pr.name, pr.status, pr.start_date, pr.phase_started_on,
            pr.sessions_per_week, pr.paused_on, pr.completed_on,
            pc.id, pc.slug, pc.name, ph.id, ph.{q("order")}, ph.name,
            (SELECT s.local_date {latest_session}),
            (SELECT COALESCE(s.pain_after, s.pain_before) {latest_session}),
            (SELECT COUNT(*) {open_alert}),
            (SELECT a.severity {open_alert} ORDER BY CASE a.severity {urgency} END LIMIT 1)
        FROM {_table(Patient)} pt
        JOIN {_table(Practitioner)} th ON th.id = pt.therapist_id
        JOIN {q(Practitioner._meta.get_field("user").related_model._meta.db_table)} u
            ON u.id = th.user_id
        LEFT JOIN (
            SELECT p.*, ROW_NUMBER() OVER (
                PARTITION BY p.patient_id
                ORDER BY CASE WHEN p.status IN ({open_statuses}) THEN 0 ELSE 1 END,
                    p.start_date DESC, p.id DESC
            ) AS newest
            FROM {_table(Prescription)} p
            WHERE {{program_patients}}
        ) pr ON pr.patient_id = pt.id AND pr.newest = 1
        LEFT JOIN {_table(Protocol)} pc ON pc.id = pr.protocol_id
        LEFT JOIN {_table(ProtocolPhase)} ph ON ph.id = pr.current_phase_id
        WHERE {{ids}}
    """  # noqa: S608 - identifiers come from the models, values are parameters


def overview_heads(patient_ids: Sequence[int]) -> dict[int, OverviewHead]:
    """Each patient's own columns, program shown, last session and open alerts: one query."""
    if not patient_ids:
        return {}
    # The programs of these patients only, ranked per patient (the first is the one shown).
    program_patients, program_params = _in("p.patient_id", patient_ids)
    among, params = _in("pt.id", patient_ids)
    sql = _heads_sql().replace("{program_patients}", program_patients).replace("{ids}", among)
    rows = prepared.fetchall(sql, [*program_params, *params])
    heads = {}
    for row in rows:
        first, last, username = row[10], row[11], row[12]
        program = None
        if row[13] is not None:
            program = ProgramColumns(*row[13:27])
        heads[row[0]] = OverviewHead(
            *row[0:10],
            therapist_name=f"{first} {last}".strip() or username,
            program=program,
            last_on=_date(row[27]),
            last_pain=row[28],
            open_alerts=row[29],
            top_severity=row[30],
        )
    return heads


def _date(value: Any) -> dt.date | None:
    # SQLite gives a subquery's date as text (no declared type to convert by); PostgreSQL
    # gives a date.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def local_dates(timezone_names: Iterable[str]) -> dict[str, dt.date]:
    """Today in each of these time zones (one clock reading for all of them)."""
    now = timezone.now()
    return {name: now.astimezone(zoneinfo.ZoneInfo(name)).date() for name in set(timezone_names)}


def overview_figures(
    clinic: Clinic, heads: Mapping[int, OverviewHead]
) -> dict[int, PatientFigures]:
    """The row figures of each patient (`overview_heads`), in two more queries: sessions per
    day over the last two weeks, and the open programs' phase and pause history."""
    if not heads:
        return {}
    today_by_zone = local_dates(head.timezone for head in heads.values())
    today_by_patient = {pk: today_by_zone[head.timezone] for pk, head in heads.items()}
    open_programs = {
        head.program.id: head.program
        for head in heads.values()
        if head.program is not None and head.program.is_open
    }
    window_days = clinic.adherence_window_days
    earliest = min(today_by_patient.values()) - dt.timedelta(days=max(window_days, TREND_DAYS) - 1)
    done_by_day, pain_days = _sessions_by_day(
        list(heads), list(open_programs), earliest, max(today_by_patient.values())
    )
    schedules = _schedules(open_programs.values())

    figures = {}
    for patient_id, head in heads.items():
        today = today_by_patient[patient_id]
        program = head.program
        adherence = None
        if program is not None and program.is_open:
            window = window_from_days(
                schedules[program.id],
                done_by_day.get(patient_id, {}),
                today - dt.timedelta(days=window_days - 1),
                today + ONE_DAY,
                today,
            )
            adherence = window.ratio
        figures[patient_id] = PatientFigures(
            today=today,
            weeks_since_start=(today - program.start_date).days // 7 if program else None,
            adherence_recent=adherence,
            last_session_on=head.last_on,
            latest_pain=head.last_pain,
            pain_direction=trend_direction(pain_days.get(patient_id, []), today),
            open_alerts=head.open_alerts,
            top_severity=head.top_severity,
        )
    return figures


def _sessions_by_day(
    patient_ids: list[int], open_program_ids: list[int], earliest: dt.date, latest: dt.date
) -> tuple[dict[int, dict[dt.date, int]], dict[int, list[DailyPain]]]:
    """Per patient and local date in [earliest, latest]: the sessions of the patient's open
    program (a program belongs to one patient), and the day's mean session pain."""
    done, done_params = "0", []
    if open_program_ids:
        among, done_params = _in("s.prescription_id", open_program_ids)
        done = f"SUM(CASE WHEN {among} THEN 1 ELSE 0 END)"
    among, params = _in("s.patient_id", patient_ids)
    sql = f"""
        SELECT s.patient_id, s.local_date, {done},
            AVG(COALESCE(s.pain_after, s.pain_before)),
            COUNT(COALESCE(s.pain_after, s.pain_before))
        FROM {_table(SessionLog)} s
        WHERE {among} AND s.local_date >= %s AND s.local_date <= %s
        GROUP BY s.patient_id, s.local_date
        ORDER BY s.patient_id, s.local_date
    """  # noqa: S608 - identifiers come from the models, values are parameters
    rows = prepared.fetchall(sql, [*done_params, *params, earliest, latest])
    done_by_day: dict[int, dict[dt.date, int]] = defaultdict(dict)
    pain_days: dict[int, list[DailyPain]] = defaultdict(list)
    # Plain date columns come back as dates from both databases (SQLite through Django's
    # converter for the declared type).
    for patient_id, day, sessions_done, pain, pain_sessions in rows:
        if sessions_done:
            done_by_day[patient_id][day] = sessions_done
        if pain is not None:
            pain_days[patient_id].append((day, float(pain), pain_sessions))
    return done_by_day, pain_days


def _schedules(programs: Iterable[ProgramColumns]) -> dict[int, Schedule]:
    """Schedules of the programs from one query over their periods."""
    programs = {program.id: program for program in programs}
    if not programs:
        return {}
    among, params = _in("prescription_id", list(programs))
    sql = f"""
        SELECT prescription_id, kind, started_on, ended_on, sessions_per_week, phase_id
        FROM {_table(PrescriptionPeriod)}
        WHERE {among}
        ORDER BY started_on, id
    """  # noqa: S608 - identifiers come from the models, values are parameters
    rows = prepared.fetchall(sql, params)
    periods: dict[int, list[Sequence[Any]]] = defaultdict(list)
    for prescription_id, *period in rows:
        periods[prescription_id].append(period)
    return {
        pk: Schedule.from_rows(
            start_date=program.start_date,
            completed_on=program.completed_on,
            sessions_per_week=program.sessions_per_week,
            periods=periods[pk],
        )
        for pk, program in programs.items()
    }
