import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import F
from django.utils import timezone

from clinic import prepared
from clinic.inserts import insert_with_children
from clinic.models import Clinic, Practitioner
from clinic.rows import Columns, column, split_row
from patients import instruments, red_flags
from patients.models import CheckIn, MeasureResponse, Patient

from . import alerts, row_cache
from .models import (
    Alert,
    Exercise,
    ExerciseLog,
    PrescribedExercise,
    Prescription,
    PrescriptionPeriod,
    Protocol,
    ProtocolPhase,
    SessionLog,
)
from .pain import BASELINE_DAYS

# Sessions may be uploaded late (offline apps), but not from the future beyond clock skew.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class ExerciseChoice:
    """One exercise with its dosage, as given to `program_assign` or `prescription_add_exercise`."""

    exercise: Exercise
    sets: int
    reps: int
    hold_seconds: int = 0
    notes: str = ""


@dataclass(frozen=True)
class ExerciseEntry:
    """What the patient did for one prescribed exercise in a session."""

    prescribed_exercise_id: int
    sets_done: int = 0
    reps_done: int = 0
    hold_seconds_done: int = 0
    completed: bool = True
    skipped_reason: str = ""


# --- precautions ------------------------------------------------------------------------


def precautions_in_force(patient: Patient, phase: ProtocolPhase | None) -> set[str]:
    tags = set(patient.precaution_tags)
    if phase is not None:
        tags |= set(phase.precaution_tags)
    return tags


def precaution_conflicts(
    exercises: Sequence[Exercise], precautions: set[str]
) -> dict[str, list[str]]:
    """Exercise slug -> the precautions it breaks (only exercises with a conflict)."""
    conflicts = {}
    for exercise in exercises:
        if broken := exercise.conflicts_with(precautions):
            conflicts[exercise.slug] = broken
    return conflicts


def _refuse_conflicts(conflicts: dict[str, list[str]]) -> None:
    if conflicts:
        messages = [
            f"{slug} conflicts with the patient's precautions: {', '.join(tags)}. "
            "Set allow_precaution_override to assign it anyway."
            for slug, tags in sorted(conflicts.items())
        ]
        raise ValidationError({"exercises": messages}, code="precaution_conflict")


def _check_dosage(choice: ExerciseChoice) -> None:
    if choice.sets < 1 or choice.reps < 1 or choice.hold_seconds < 0:
        raise ValidationError(
            {"exercises": [f"{choice.exercise.slug}: sets and reps must be at least 1."]}
        )


def _local_midnight(patient: Patient, day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=patient.tzinfo)


def _entries_from_choices(
    prescription: Prescription,
    choices: Sequence[ExerciseChoice],
    conflicts: dict[str, list[str]],
    override_reason: str,
    first_order: int = 0,
    added_at: dt.datetime | None = None,
) -> list[PrescribedExercise]:
    added_at = added_at or timezone.now()
    return [
        PrescribedExercise(
            prescription=prescription,
            exercise=choice.exercise,
            order=first_order + index,
            sets=choice.sets,
            reps=choice.reps,
            hold_seconds=choice.hold_seconds,
            notes=choice.notes,
            precaution_override=choice.exercise.slug in conflicts,
            override_reason=override_reason if choice.exercise.slug in conflicts else "",
            added_at=added_at,
        )
        for index, choice in enumerate(choices)
    ]


def phase_exercise_choices(phase: ProtocolPhase) -> list[ExerciseChoice]:
    return [
        ExerciseChoice(
            exercise=item.exercise, sets=item.sets, reps=item.reps, hold_seconds=item.hold_seconds
        )
        for item in phase.exercises.select_related("exercise").order_by("order", "id")
    ]


# --- assigning and changing programs ------------------------------------------------------


@transaction.atomic
def program_assign(
    *,
    patient: Patient,
    prescriber: Practitioner,
    protocol: Protocol | None = None,
    phase: ProtocolPhase | None = None,
    exercises: Sequence[ExerciseChoice] | None = None,
    name: str = "",
    start_date: dt.date | None = None,
    sessions_per_week: int | None = None,
    allow_precaution_override: bool = False,
    override_reason: str = "",
) -> Prescription:
    """Give a patient a program: a protocol phase's exercises copied in, or a custom list."""
    if prescriber.clinic_id != patient.clinic_id:
        raise ValidationError({"prescriber": ["The prescriber works at another clinic."]})
    if patient.status != Patient.Status.ACTIVE:
        raise ValidationError({"patient": ["A discharged patient cannot be given a program."]})
    if protocol is None and phase is not None:
        protocol = phase.protocol
    if protocol is not None:
        phase = phase or protocol.phases.order_by("order").first()
        if phase is None or phase.protocol_id != protocol.pk:
            raise ValidationError({"phase": ["Choose a phase of the chosen protocol."]})
        choices = list(exercises) if exercises is not None else phase_exercise_choices(phase)
        sessions_per_week = sessions_per_week or phase.sessions_per_week
        name = name or protocol.name
        open_same = patient.prescriptions.filter(
            protocol=protocol, status__in=[Prescription.Status.ACTIVE, Prescription.Status.PAUSED]
        )
        if open_same.exists():
            raise ValidationError(
                {"protocol": ["The patient already has an open program on this protocol."]}
            )
    else:
        if not exercises:
            raise ValidationError({"exercises": ["A custom program needs at least one exercise."]})
        choices = list(exercises)
        sessions_per_week = sessions_per_week or 5
        name = name or "Custom program"
    if not 1 <= sessions_per_week <= 14:
        raise ValidationError({"sessions_per_week": ["Choose between 1 and 14 sessions a week."]})
    for choice in choices:
        _check_dosage(choice)
    if len({choice.exercise.pk for choice in choices}) != len(choices):
        raise ValidationError({"exercises": ["Each exercise can be listed only once."]})

    conflicts = precaution_conflicts(
        [choice.exercise for choice in choices], precautions_in_force(patient, phase)
    )
    if not allow_precaution_override:
        _refuse_conflicts(conflicts)

    start_date = start_date or patient.local_date()
    prescription = Prescription.objects.create(
        patient=patient,
        prescriber=prescriber,
        protocol=protocol,
        name=name[:160],
        current_phase=phase,
        start_date=start_date,
        phase_started_on=start_date,
        sessions_per_week=sessions_per_week,
    )
    PrescriptionPeriod.objects.create(
        prescription=prescription,
        kind=PrescriptionPeriod.Kind.PHASE,
        phase=phase,
        sessions_per_week=sessions_per_week,
        started_on=start_date,
    )
    PrescribedExercise.objects.bulk_create(
        _entries_from_choices(
            prescription,
            choices,
            conflicts,
            override_reason,
            added_at=_local_midnight(patient, start_date),
        )
    )
    return prescription


@transaction.atomic
def prescription_update_dosage(
    *,
    prescribed_exercise: PrescribedExercise,
    sets: int | None = None,
    reps: int | None = None,
    hold_seconds: int | None = None,
    notes: str | None = None,
) -> PrescribedExercise:
    """Change the dosage of one exercise in a program."""
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("sets", sets),
            ("reps", reps),
            ("hold_seconds", hold_seconds),
            ("notes", notes),
        )
        if value is not None
    }
    errors = {
        name: ["Must be at least 1."]
        for name in ("sets", "reps")
        if name in changes and changes[name] < 1
    }
    if "hold_seconds" in changes and changes["hold_seconds"] < 0:
        errors["hold_seconds"] = ["Must not be negative."]
    if errors:
        raise ValidationError(errors)
    if not prescribed_exercise.active:
        raise ValidationError({"prescribed_exercise": ["This exercise was removed."]})
    for name, value in changes.items():
        setattr(prescribed_exercise, name, value)
    prescribed_exercise.save(update_fields=list(changes))
    return prescribed_exercise


@transaction.atomic
def prescription_add_exercise(
    *,
    prescription: Prescription,
    choice: ExerciseChoice,
    allow_precaution_override: bool = False,
    override_reason: str = "",
) -> PrescribedExercise:
    """Add one exercise to a program, refusing a precaution conflict unless overridden."""
    _check_dosage(choice)
    _refuse_if_closed(prescription)
    if prescription.exercises.filter(exercise=choice.exercise, active=True).exists():
        raise ValidationError({"exercise": ["This exercise is already in the program."]})
    conflicts = precaution_conflicts(
        [choice.exercise],
        precautions_in_force(prescription.patient, prescription.current_phase),
    )
    if not allow_precaution_override:
        _refuse_conflicts(conflicts)
    last = prescription.exercises.order_by("-order").values_list("order", flat=True).first()
    (entry,) = _entries_from_choices(
        prescription, [choice], conflicts, override_reason, first_order=(last or 0) + 1
    )
    entry.save()
    return entry


@transaction.atomic
def prescription_remove_exercise(*, prescribed_exercise: PrescribedExercise) -> None:
    """Take an exercise out of a program; its past logs stay."""
    if not prescribed_exercise.active:
        raise ValidationError({"prescribed_exercise": ["This exercise was already removed."]})
    prescribed_exercise.active = False
    prescribed_exercise.removed_at = timezone.now()
    prescribed_exercise.save(update_fields=["active", "removed_at"])


def _refuse_if_closed(prescription: Prescription) -> None:
    if prescription.status == Prescription.Status.COMPLETED:
        raise ValidationError({"status": ["This program is completed."]})


@transaction.atomic
def phase_advance(
    *,
    prescription: Prescription,
    to_phase: ProtocolPhase | None = None,
    on_date: dt.date | None = None,
    allow_precaution_override: bool = False,
    override_reason: str = "",
) -> Prescription:
    """Move a protocol program to its next (or a chosen) phase, copying that phase's exercises."""
    prescription = Prescription.objects.select_for_update().get(pk=prescription.pk)
    _refuse_if_closed(prescription)
    if prescription.protocol_id is None:
        raise ValidationError({"phase": ["A custom program has no phases."]})
    phases = prescription.protocol.phases.order_by("order")
    if to_phase is None:
        current_order = prescription.current_phase.order if prescription.current_phase else 0
        to_phase = phases.filter(order__gt=current_order).first()
        if to_phase is None:
            raise ValidationError({"phase": ["The program is already in its last phase."]})
    elif to_phase.protocol_id != prescription.protocol_id:
        raise ValidationError({"phase": ["Choose a phase of this program's protocol."]})
    elif to_phase.pk == prescription.current_phase_id:
        raise ValidationError({"phase": ["The program is already in this phase."]})

    patient = prescription.patient
    on_date = on_date or patient.local_date()
    if on_date < prescription.phase_started_on:
        raise ValidationError({"on_date": ["A phase cannot start before the current one."]})
    choices = phase_exercise_choices(to_phase)
    conflicts = precaution_conflicts(
        [choice.exercise for choice in choices], precautions_in_force(patient, to_phase)
    )
    if not allow_precaution_override:
        _refuse_conflicts(conflicts)

    prescription.periods.filter(kind=PrescriptionPeriod.Kind.PHASE, ended_on__isnull=True).update(
        ended_on=on_date
    )
    PrescriptionPeriod.objects.create(
        prescription=prescription,
        kind=PrescriptionPeriod.Kind.PHASE,
        phase=to_phase,
        sessions_per_week=to_phase.sessions_per_week,
        started_on=on_date,
    )
    # The phase starts at the patient's local midnight of `on_date`: sessions logged that day
    # count against the new phase's exercises.
    switch_at = min(timezone.now(), _local_midnight(patient, on_date))
    prescription.exercises.filter(active=True).update(active=False, removed_at=switch_at)
    PrescribedExercise.objects.bulk_create(
        _entries_from_choices(prescription, choices, conflicts, override_reason, added_at=switch_at)
    )
    prescription.current_phase = to_phase
    prescription.phase_started_on = on_date
    prescription.sessions_per_week = to_phase.sessions_per_week
    prescription.save(
        update_fields=["current_phase", "phase_started_on", "sessions_per_week", "updated_at"]
    )
    return prescription


@transaction.atomic
def program_pause(*, prescription: Prescription, on_date: dt.date | None = None) -> Prescription:
    """Pause a program: days from `on_date` are not planned until it is resumed."""
    prescription = Prescription.objects.select_for_update().get(pk=prescription.pk)
    if prescription.status != Prescription.Status.ACTIVE:
        raise ValidationError({"status": ["Only an active program can be paused."]})
    on_date = on_date or prescription.patient.local_date()
    if on_date < prescription.phase_started_on:
        raise ValidationError({"on_date": ["A program cannot pause before its phase started."]})
    prescription.status = Prescription.Status.PAUSED
    prescription.paused_on = on_date
    prescription.save(update_fields=["status", "paused_on", "updated_at"])
    PrescriptionPeriod.objects.create(
        prescription=prescription, kind=PrescriptionPeriod.Kind.PAUSE, started_on=on_date
    )
    return prescription


@transaction.atomic
def program_resume(*, prescription: Prescription, on_date: dt.date | None = None) -> Prescription:
    """Resume a paused program from `on_date` (today in the patient's time zone by default)."""
    prescription = Prescription.objects.select_for_update().get(pk=prescription.pk)
    if prescription.status != Prescription.Status.PAUSED:
        raise ValidationError({"status": ["Only a paused program can be resumed."]})
    on_date = on_date or prescription.patient.local_date()
    if on_date < prescription.paused_on:
        raise ValidationError({"on_date": ["A program cannot resume before it was paused."]})
    prescription.periods.filter(kind=PrescriptionPeriod.Kind.PAUSE, ended_on__isnull=True).update(
        ended_on=on_date
    )
    prescription.status = Prescription.Status.ACTIVE
    prescription.paused_on = None
    prescription.save(update_fields=["status", "paused_on", "updated_at"])
    return prescription


@transaction.atomic
def program_complete(*, prescription: Prescription, on_date: dt.date | None = None) -> Prescription:
    """Finish a program: nothing is planned after `on_date`."""
    prescription = Prescription.objects.select_for_update().get(pk=prescription.pk)
    _refuse_if_closed(prescription)
    on_date = on_date or prescription.patient.local_date()
    # A program completed before it started (a future start date, cancelled today) closes its
    # periods empty: a period never ends before it starts.
    open_periods = prescription.periods.filter(ended_on__isnull=True)
    open_periods.filter(started_on__gt=on_date).update(ended_on=F("started_on"))
    open_periods.filter(started_on__lte=on_date).update(ended_on=on_date)
    prescription.status = Prescription.Status.COMPLETED
    prescription.completed_on = on_date
    prescription.paused_on = None
    prescription.save(update_fields=["status", "completed_on", "paused_on", "updated_at"])
    return prescription


@transaction.atomic
def patient_discharge(*, patient: Patient) -> Patient:
    """Discharge a patient: complete their open programs and stop their reminders."""
    if patient.status == Patient.Status.DISCHARGED:
        raise ValidationError({"status": ["This patient is already discharged."]})
    for prescription in patient.prescriptions.exclude(status=Prescription.Status.COMPLETED):
        program_complete(prescription=prescription)
    patient.status = Patient.Status.DISCHARGED
    patient.discharged_at = timezone.now()
    patient.reminders_enabled = False
    patient.save(update_fields=["status", "discharged_at", "reminders_enabled", "updated_at"])
    return patient


# --- logging sessions ---------------------------------------------------------------------


# What logging a session reads: the program's dates, phase and status, and the slug and name
# of each exercise entry's exercise (the answer shows them).
LOGGING_PROGRAM_FIELDS = (
    "id",
    "patient",
    "status",
    "start_date",
    "phase_started_on",
    "current_phase",
    "completed_on",
)


@dataclass(frozen=True)
class _ProgramRead:
    sql: str
    parts: tuple[Columns, ...]  # then three values: the pain-spike rule's (`_spike_rule_sql`)


def _spike_rule_sql(using: str) -> tuple[str, str]:
    """The values of the program's pain-spike rule as select-list items, and the join they
    need (of the clinic, a parameter): the first-week baseline so far (as
    `pain.pain_baseline`), the clinic's absolute limit and its margin over the baseline."""
    quote = connections[using].ops.quote_name
    col = partial(column, using=using)

    start = f"rx.{col(Prescription, 'start_date')}"
    first_week_end = (
        f"{start} + {BASELINE_DAYS}"
        if connections[using].vendor == "postgresql"
        else f"date({start}, '+{BASELINE_DAYS} days')"
    )
    pain_after, pain_before = col(SessionLog, "pain_after"), col(SessionLog, "pain_before")
    select = (
        f"(SELECT AVG(COALESCE(s.{pain_after}, s.{pain_before})) "  # noqa: S608 - from _meta
        f"FROM {quote(SessionLog._meta.db_table)} s "
        f"WHERE s.{col(SessionLog, 'prescription')} = rx.{col(Prescription, 'id')} "
        f"AND s.{col(SessionLog, 'local_date')} < {first_week_end}), "
        f"c.{col(Clinic, 'pain_spike_absolute')}, c.{col(Clinic, 'pain_spike_over_baseline')}"
    )
    join = f"JOIN {quote(Clinic._meta.db_table)} c ON c.{col(Clinic, 'id')} = %s"
    return select, join


@cache
def _program_read(by_id: bool, entry_count: int, using: str = "default") -> _ProgramRead:
    """The statement that reads a session's program, its entries' exercises and the values of
    its pain-spike rule together.

    A session upload is the hottest write; through the ORM these were three queries compiled
    on every upload (~1.5 ms, several times their execution). This one is assembled once per
    shape (program named or not, number of entries) from the models' _meta.
    """
    quote = connections[using].ops.quote_name
    col = partial(column, using=using)

    program = Columns.of(Prescription, "rx", LOGGING_PROGRAM_FIELDS, using)
    parts = [program]
    joins = ""
    if entry_count:
        entry = Columns.of(PrescribedExercise, "pe", ("id", "prescription", "exercise"), using)
        exercise = Columns.of(Exercise, "ex", ("id", "slug", "name"), using)
        parts += [entry, exercise]
        ids = ", ".join(["%s"] * entry_count)
        joins = (
            f"LEFT JOIN {quote(PrescribedExercise._meta.db_table)} pe "
            f"ON pe.{col(PrescribedExercise, 'prescription')} = rx.{col(Prescription, 'id')} "
            f"AND pe.{col(PrescribedExercise, 'id')} IN ({ids}) "
            f"LEFT JOIN {quote(Exercise._meta.db_table)} ex "
            f"ON ex.{col(Exercise, 'id')} = pe.{col(PrescribedExercise, 'exercise')}"
        )
    which = "=" if by_id else "<>"
    which_column = "id" if by_id else "status"
    # Identifiers come from the models' _meta; every value is a parameter.
    spike_select, spike_join = _spike_rule_sql(using)
    sql = (
        f"SELECT {', '.join(part.select_list(using) for part in parts)}, "  # noqa: S608
        f"{spike_select} "
        f"FROM {quote(Prescription._meta.db_table)} rx {spike_join} {joins} "
        f"WHERE rx.{col(Prescription, 'patient')} = %s "
        f"AND rx.{col(Prescription, which_column)} {which} %s"
    )
    return _ProgramRead(sql=sql, parts=tuple(parts))


def _program_and_entries(
    patient: Patient, prescription_id: int | None, entry_ids: Sequence[int]
) -> tuple[Prescription, dict[int, PrescribedExercise], alerts.PainSpikeRule]:
    """The session's program (the one named, else the patient's only open one), those of
    `entry_ids` that are its exercises, with their exercise (slug and name), and the
    program's pain-spike rule before this session, in one query."""
    ids = list(dict.fromkeys(entry_ids))
    read = _program_read(prescription_id is not None, len(ids))
    which = prescription_id if prescription_id is not None else Prescription.Status.COMPLETED
    rows = prepared.fetchall(read.sql, [patient.clinic_id, *ids, patient.pk, which])
    programs: dict[int, Prescription] = {}
    known: dict[int, PrescribedExercise] = {}
    rules: dict[int, alerts.PainSpikeRule] = {}
    for row in rows:
        values = split_row(row, read.parts)
        # One row per entry, each repeating the program: one instance of it (its key first).
        if (program_pk := values[0][0]) not in programs:
            programs[program_pk] = read.parts[0].instance(values[0])
            baseline, absolute, over_baseline = row[-3:]
            rules[program_pk] = alerts.PainSpikeRule(
                absolute=patient.pain_spike_absolute or absolute,
                over_baseline=over_baseline,
                baseline=float(baseline) if baseline is not None else None,
            )
        if ids and (entry := read.parts[1].instance(values[1])) is not None:
            entry._state.fields_cache["exercise"] = read.parts[2].instance(values[2])
            known[entry.pk] = entry
    if prescription_id is not None and not programs:
        raise ValidationError({"prescription": ["No such program for this patient."]})
    if len(programs) != 1:
        message = (
            "The patient has no open program."
            if not programs
            else "The patient has several programs: say which one."
        )
        raise ValidationError({"prescription": [message]})
    program = next(iter(programs.values()))
    return program, known, rules[program.pk]


def _phase_id_on(prescription: Prescription, local_date: dt.date) -> int | None:
    """The phase in force on that day: the current one, or the one a phase period records."""
    if local_date >= prescription.phase_started_on:
        return prescription.current_phase_id
    return (
        prescription.periods.filter(kind=PrescriptionPeriod.Kind.PHASE, started_on__lte=local_date)
        .order_by("-started_on")
        .values_list("phase_id", flat=True)
        .first()
    )


def _validate_session(
    prescription: Prescription,
    local_date: dt.date,
    performed_at: dt.datetime,
    entries: Sequence[ExerciseEntry],
    scores: dict[str, int | None],
    known: dict[int, PrescribedExercise],
) -> dict[int, PrescribedExercise]:
    """Raise `ValidationError` with every problem; return the entries' prescribed exercises.

    `known`: those of the entries' ids that are exercises of this program, with their
    exercise (`_program_and_entries` read them with the program).
    """
    errors: dict[str, list[str]] = {}
    for name, value in scores.items():
        if value is not None and not 0 <= value <= 10:
            errors[name] = ["Must be between 0 and 10."]
    if performed_at > timezone.now() + FUTURE_TOLERANCE:
        errors["performed_at"] = ["Cannot be in the future."]
    if local_date < prescription.start_date:
        errors["performed_at"] = ["Is before the program started."]
    if prescription.completed_on and local_date > prescription.completed_on:
        errors["performed_at"] = ["Is after the program was completed."]
    ids = [entry.prescribed_exercise_id for entry in entries]
    if len(set(ids)) != len(ids):
        errors["exercises"] = ["Each prescribed exercise can appear only once."]
    elif missing := [pk for pk in ids if pk not in known]:
        errors["exercises"] = [f"Exercise {pk} is not part of this program." for pk in missing]
    if errors:
        raise ValidationError(errors)
    return known


def session_find(*, patient: Patient, client_id: uuid.UUID) -> SessionLog | None:
    return SessionLog.objects.filter(patient=patient, client_id=client_id).first()


def session_record(
    *,
    patient: Patient,
    client_id: uuid.UUID,
    performed_at: dt.datetime,
    prescription_id: int | None = None,
    pain_before: int | None = None,
    pain_after: int | None = None,
    difficulty: int | None = None,
    duration_minutes: int | None = None,
    notes: str = "",
    entries: Sequence[ExerciseEntry] = (),
    source: str = SessionLog.Source.APP,
    check_existing: bool = True,
) -> tuple[SessionLog, bool]:
    """Store a session with its exercise entries; a known `client_id` returns the stored one.

    Returns (session, created); a created session carries its entries with their exercises.
    Enqueues the alert check after commit when created and it may open an alert
    (`_needs_alert_check`).
    Idempotent also under concurrency: the unique (patient, client_id) key decides the race.
    """
    # `check_existing=False` when the caller has just looked the client_id up itself; the
    # unique key still settles a race below.
    if check_existing and (existing := session_find(patient=patient, client_id=client_id)):
        return existing, False
    if timezone.is_naive(performed_at):
        raise ValidationError({"performed_at": ["Give a time zone offset."]})
    prescription, known, spike_rule = _program_and_entries(
        patient, prescription_id, [entry.prescribed_exercise_id for entry in entries]
    )
    local_date = patient.local_date(performed_at)
    prescribed = _validate_session(
        prescription,
        local_date,
        performed_at,
        entries,
        {"pain_before": pain_before, "pain_after": pain_after, "difficulty": difficulty},
        known,
    )
    session = SessionLog(
        prescription=prescription,
        patient=patient,
        client_id=client_id,
        performed_at=performed_at,
        local_date=local_date,
        phase_id=_phase_id_on(prescription, local_date),
        pain_before=pain_before,
        pain_after=pain_after,
        difficulty=difficulty,
        duration_minutes=duration_minutes,
        notes=notes,
        source=source,
    )
    logs = [
        ExerciseLog(
            session=session,
            prescribed_exercise=prescribed[entry.prescribed_exercise_id],
            sets_done=entry.sets_done,
            reps_done=entry.reps_done,
            hold_seconds_done=entry.hold_seconds_done,
            completed=entry.completed,
            skipped_reason=entry.skipped_reason,
        )
        for entry in entries
    ]
    # The upload is the hottest write: the session and its entries in one statement assembled
    # once (clinic.inserts). An identical upload that won the race makes it insert nothing (no
    # error, so no savepoint around it); any other failure rolls back the whole enclosing
    # transaction.
    with transaction.atomic(savepoint=False):
        if not insert_with_children(session, ("patient", "client_id"), logs):
            if existing := session_find(patient=patient, client_id=client_id):
                return existing, False
            raise IntegrityError("session client_id conflict without a stored session")
        # The insert sends no post_save: the patient's list row is out of date here.
        row_cache.rows_forget([patient.pk])
        if _needs_alert_check(session, prescription, spike_rule):
            transaction.on_commit(lambda: _after_session_recorded(session.pk))
    _cache_entries(session, logs)
    return session, True


def _needs_alert_check(
    session: SessionLog, prescription: Prescription, rule: alerts.PainSpikeRule
) -> bool:
    """Whether the alert task must look at this session after commit.

    The task compares the session with the program's first-week baseline as stored when it
    runs. The rule read with the program decides the same in the request as long as that
    baseline cannot change before the task runs, so a task is sent only for a spike — except
    while it can change: for a session in the program's first week (the baseline is still
    forming, and the session is part of it for the others), and for offline sync batches
    (items may come in any order, and the task ran after the whole batch committed). Most
    sessions cost no message at all (~0.9 ms each).
    """
    if session.pain_after is None:
        return False  # the rule compares the pain after exercise: nothing to compare
    if session.source == SessionLog.Source.SYNC:
        return True
    if session.local_date < prescription.start_date + dt.timedelta(days=BASELINE_DAYS):
        return True
    return bool(rule.reasons(session.pain_after))


def _cache_entries(session: SessionLog, logs: list[ExerciseLog]) -> None:
    """Hand the session its just-inserted entries as Django's prefetch would (a queryset with
    its result cache filled), so `session.entries.all()` and `prefetch_related_objects` need
    no query; they are in insertion (id) order, with their exercises."""
    entries = session.entries.all()
    entries._result_cache = logs
    entries._prefetch_done = True
    session._prefetched_objects_cache = {"entries": entries}


def _after_session_recorded(session_id: int) -> None:
    from .tasks import evaluate_session_alerts_task

    evaluate_session_alerts_task.delay(session_id)


# --- symptom check-ins and outcome measures -----------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    """A stored check-in and what the patient must be told about it."""

    checkin: CheckIn
    created: bool
    red_flags: list[red_flags.RedFlagQuestion]
    urgency: str | None  # emergency, urgent, review; None without a red flag
    advice: str
    alert_id: int | None = None


def _checkin_result(checkin: CheckIn, created: bool, alert_id: int | None = None) -> CheckInResult:
    flags = red_flags.red_flags_in({key: True for key in checkin.red_flags})
    urgency = red_flags.highest_urgency(flags)
    return CheckInResult(
        checkin=checkin,
        created=created,
        red_flags=flags,
        urgency=urgency,
        advice=red_flags.advice_for(urgency),
        alert_id=alert_id,
    )


def checkin_record(
    *,
    patient: Patient,
    pain_now: int,
    answers: dict[str, bool],
    notes: str = "",
    client_id: uuid.UUID | None = None,
) -> CheckInResult:
    """Store a symptom check-in; any red flag opens (or updates) an urgent alert in the same
    transaction. A known `client_id` returns the stored check-in without a second alert.
    """
    if client_id is not None and (
        existing := CheckIn.objects.filter(patient=patient, client_id=client_id).first()
    ):
        return _checkin_result(existing, created=False)
    errors: dict[str, list[str]] = {}
    if isinstance(pain_now, bool) or not isinstance(pain_now, int) or not 0 <= pain_now <= 10:
        errors["pain_now"] = ["Must be a whole number between 0 and 10."]
    try:
        red_flags.validate_answers(answers)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    flags = red_flags.red_flags_in(answers)
    urgency = red_flags.highest_urgency(flags)
    checkin = CheckIn(
        patient=patient,
        pain_now=pain_now,
        answers=dict(answers),
        red_flags=[flag.key for flag in flags],
        urgency=urgency or "",
        notes=notes,
        client_id=client_id,
    )
    # answers and red_flags are validated above; an empty one is fine ("no" to everything).
    checkin.full_clean(exclude=["patient", "answers", "red_flags"])
    alert_id = None
    try:
        with transaction.atomic():
            checkin.save(force_insert=True)
            if flags:
                alert, _ = alerts.alert_open_or_update(
                    patient=patient,
                    kind=Alert.Kind.RED_FLAG,
                    severity=Alert.Severity.URGENT,
                    message=(
                        f"Red flag ({urgency}) in a check-in: "
                        + "; ".join(flag.key.replace("_", " ") for flag in flags)
                    ),
                    details={
                        "checkin_id": checkin.pk,
                        "urgency": urgency,
                        "red_flags": checkin.red_flags,
                        "pain_now": pain_now,
                    },
                )
                alert_id = alert.pk
    except IntegrityError:
        # Lost a race with an identical upload: the other request stored it (and alerted).
        if client_id is not None and (
            existing := CheckIn.objects.filter(patient=patient, client_id=client_id).first()
        ):
            return _checkin_result(existing, created=False)
        raise
    return _checkin_result(checkin, created=True, alert_id=alert_id)


def _answer_errors(error: instruments.AnswerError) -> dict[str, list[str]]:
    """The instrument's answer errors keyed by request field (`answers.q3`, `instrument`)."""
    keyed: dict[str, list[str]] = {}
    for key, messages in error.errors.items():
        if key == "instrument":
            name = "instrument"
        elif key == instruments.NON_FIELD_ERRORS:
            name = "answers"
        else:
            name = f"answers.{key}"
        keyed.setdefault(name, []).extend(messages)
    return keyed


def measure_submit(
    *,
    patient: Patient,
    instrument: str,
    answers: dict[str, Any],
    taken_at: dt.datetime | None = None,
    recorded_by: Any = None,
    client_id: uuid.UUID | None = None,
) -> tuple[MeasureResponse, bool]:
    """Validate, score and store an outcome-measure response; returns (response, created).

    A known `client_id` returns the stored response. Enqueues the score-decline check after
    commit when created.
    """
    if client_id is not None and (
        existing := MeasureResponse.objects.filter(patient=patient, client_id=client_id).first()
    ):
        return existing, False
    try:
        result = instruments.score(instrument, answers)
    except instruments.AnswerError as exc:
        raise ValidationError(_answer_errors(exc)) from exc
    taken_at = taken_at or timezone.now()
    if timezone.is_naive(taken_at):
        raise ValidationError({"taken_at": ["Give a time zone offset."]})
    if taken_at > timezone.now() + FUTURE_TOLERANCE:
        raise ValidationError({"taken_at": ["Cannot be in the future."]})
    measure = MeasureResponse(
        patient=patient,
        instrument=instrument,
        instrument_version=result.version,
        answers=answers,
        raw_score=result.raw,
        score=result.score,
        taken_at=taken_at,
        recorded_by=recorded_by,
        client_id=client_id,
    )
    try:
        with transaction.atomic():
            measure.save(force_insert=True)
            transaction.on_commit(lambda: _after_measure_submitted(measure.pk))
    except IntegrityError:
        if client_id is not None and (
            existing := MeasureResponse.objects.filter(patient=patient, client_id=client_id).first()
        ):
            return existing, False
        raise
    return measure, True


def _after_measure_submitted(measure_id: int) -> None:
    from .tasks import evaluate_measure_alerts_task

    evaluate_measure_alerts_task.delay(measure_id)
