import datetime as dt
import logging
import random
import uuid
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from clinic.models import Clinic, Practitioner
from patients import instruments
from patients.models import CheckIn, Condition, MeasureResponse, Patient
from patients.services import patient_claim, patient_create
from programs import alerts
from programs.models import PrescribedExercise, Prescription, Protocol, SessionLog
from programs.services import (
    ExerciseEntry,
    patient_discharge,
    phase_advance,
    program_assign,
    program_pause,
    session_record,
)

DEMO_PASSWORD = "stride-demo"  # noqa: S105 - published demo login, printed by the command
DEMO_URL = "http://127.0.0.1:8000/"
NAMESPACE = uuid.UUID("5a6e3c1e-6d1b-4b8e-9f0a-57a1de000001")
NY, LA, LONDON = "America/New_York", "America/Los_Angeles", "Europe/London"
RIVERSIDE, HARBOR = "riverside-physio", "harbor-rehab"
CLINICS = {RIVERSIDE: ("Riverside Physio", NY), HARBOR: ("Harbor Rehab", NY)}

THR = "total-hip-replacement-posterior"
SCOPE = "hip-arthroscopy-labral-repair"
LABRUM = "hip-labrum-non-operative"
PFP = "patellofemoral-hip-strengthening"
OA = "hip-osteoarthritis-glad"
# protocol -> (condition, surgical approach, outcome measure, pain after exercise in week 1)
PROTOCOL_FACTS: dict[str, tuple[str, str, str, int]] = {
    THR: (Condition.TOTAL_HIP_REPLACEMENT, "posterior", "hoos_jr", 5),
    SCOPE: (Condition.HIP_LABRUM_TEAR, "arthroscopic", "hoos_jr", 4),
    LABRUM: (Condition.HIP_LABRUM_TEAR, "", "hoos_jr", 4),
    PFP: (Condition.PATELLOFEMORAL_PAIN, "", "koos_jr", 4),
    OA: (Condition.HIP_OSTEOARTHRITIS, "", "hoos_jr", 5),
}
SKIP_REASONS = ("Too sore today", "Ran out of time", "Not sure I was doing it right", "No band")
SESSION_NOTES = ("Felt good today.", "A bit stiff to start.", "Easier than last week.", "Tired.")


class Arc(StrEnum):
    ADHERENT = "adherent"
    FADING = "fading"
    PAIN_SPIKE = "pain spike"
    RED_FLAG = "red flag"
    DISCHARGED = "discharged"
    PAUSED = "paused"
    INACTIVE = "inactive"
    NEW = "new"


@dataclass(frozen=True)
class Staff:
    username: str
    first_name: str
    last_name: str
    title: str = ""
    role: str = Practitioner.Role.THERAPIST
    clinic: str = RIVERSIDE


@dataclass(frozen=True)
class Profile:
    first_name: str
    last_name: str
    protocol: str
    side: str
    arc: Arc
    weeks: int  # how long ago the program started
    tz: str = NY
    therapist: str = "therapist"
    login: str = ""  # username of a claimed patient account
    clinic: str = RIVERSIDE

    @property
    def key(self) -> str:
        return f"{self.clinic}/{self.first_name}-{self.last_name}".lower()


STAFF = (
    Staff("therapist", "Dana", "Whitfield", "PT"),
    Staff("therapist2", "Sam", "Okafor", "DPT"),
    Staff("clinicadmin", "Morgan", "Reyes", role=Practitioner.Role.ADMIN),
    Staff("harbor", "Priya", "Nair", "PT", clinic=HARBOR),
)
T2 = "therapist2"
A = Arc
PROFILES = (
    Profile("Margaret", "Ellison", THR, "right", A.ADHERENT, 11, login="patient"),
    Profile("Harold", "Brennan", THR, "left", A.ADHERENT, 5, therapist=T2),
    Profile("Rosa", "Delgado", THR, "right", A.FADING, 9),
    Profile("Walter", "Kowalski", THR, "left", A.DISCHARGED, 12),
    Profile("Evelyn", "Park", THR, "right", A.RED_FLAG, 2),
    Profile("Frank", "Moretti", THR, "left", A.NEW, 0, therapist=T2),
    Profile("Judith", "Abernathy", THR, "right", A.INACTIVE, 7, tz=LA),
    Profile("Tyler", "Nguyen", SCOPE, "left", A.ADHERENT, 10, therapist=T2),
    Profile("Chloe", "Bergstrom", SCOPE, "right", A.PAIN_SPIKE, 6),
    Profile("Marcus", "Hale", SCOPE, "right", A.FADING, 8, tz=LONDON),
    Profile("Sofia", "Rinaldi", SCOPE, "left", A.ADHERENT, 3),
    Profile("Devon", "Clarke", SCOPE, "right", A.PAUSED, 7, therapist=T2),
    Profile("Aisha", "Rahman", SCOPE, "left", A.NEW, 0),
    Profile("Jasmine", "Ortiz", LABRUM, "right", A.ADHERENT, 12),
    Profile("Ben", "Sutherland", LABRUM, "left", A.FADING, 10, tz=LA, therapist=T2),
    Profile("Nora", "Fitzgerald", LABRUM, "right", A.ADHERENT, 6),
    Profile("Owen", "Patel", LABRUM, "left", A.ADHERENT, 4, therapist=T2),
    Profile("Lila", "Hoffmann", LABRUM, "right", A.FADING, 6),
    Profile("Ethan", "Brooks", PFP, "right", A.ADHERENT, 8, login="patient2"),
    Profile("Maya", "Castillo", PFP, "left", A.FADING, 11, therapist=T2),
    Profile("Jordan", "Ambrose", PFP, "both", A.ADHERENT, 5, tz=LONDON),
    Profile("Hannah", "Lindqvist", PFP, "right", A.ADHERENT, 12),
    Profile("Caleb", "Foster", PFP, "left", A.NEW, 0),
    Profile("Zoe", "Whitaker", PFP, "right", A.FADING, 7, therapist=T2),
    Profile("Gloria", "Santos", OA, "both", A.ADHERENT, 12),
    Profile("Richard", "Yamamoto", OA, "right", A.ADHERENT, 9, tz=LA, therapist=T2),
    Profile("Patricia", "Doyle", OA, "left", A.FADING, 12),
    Profile("Leonard", "Fischer", OA, "right", A.ADHERENT, 4),
    Profile("Irene", "Kaplan", OA, "left", A.ADHERENT, 2, therapist=T2),
    Profile("Samuel", "Mensah", OA, "right", A.ADHERENT, 10),
    Profile("Grace", "Whitmore", OA, "left", A.ADHERENT, 6, therapist="harbor", clinic=HARBOR),
    Profile("Felix", "Moreau", PFP, "right", A.NEW, 0, therapist="harbor", clinic=HARBOR),
)
# Days before "today" of the last possible session, for the stories that stop early.
LAST_SESSION_DAYS_AGO = {Arc.PAUSED: 9, Arc.INACTIVE: 11, Arc.PAIN_SPIKE: 1, Arc.DISCHARGED: 2}


class Command(BaseCommand):
    help = "Create a demo clinic with therapists, ~30 patients and 12 weeks of sessions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--today", type=dt.date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--seed", type=int, default=2025)
        parser.add_argument(
            "--patients", type=int, help="Seed only the first N Riverside patients (faster)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        real_today = timezone.now().astimezone(zoneinfo.ZoneInfo(NY)).date()
        today: dt.date = options["today"] or real_today
        if today > real_today:
            raise CommandError("--today cannot be in the future: sessions would be refused.")
        riverside = [p for p in PROFILES if p.clinic == RIVERSIDE][: options["patients"]]
        profiles = [*riverside, *(p for p in PROFILES if p.clinic == HARBOR)]
        created = 0
        # Eager mode logs one line per alert check run on commit: ~1,000 lines of noise here.
        logging.getLogger("celery.app.trace").setLevel(logging.WARNING)
        with transaction.atomic():
            clinics = {slug: self._clinic(slug, *facts) for slug, facts in CLINICS.items()}
            staff = {s.username: self._practitioner(s, clinics[s.clinic]) for s in STAFF}
            self._user("admin", email="admin@example.com", is_staff=True, is_superuser=True)
            for profile in profiles:
                seeder = PatientSeeder(profile, today, options["seed"], clinics, staff)
                created += seeder.run()
        self.stdout.write(f"Seeded {created} new patients ({len(profiles) - created} existed).")
        self._print_logins(profiles)

    def _clinic(self, slug: str, name: str, timezone_name: str) -> Clinic:
        defaults = {"name": name, "timezone": timezone_name}
        return Clinic.objects.get_or_create(slug=slug, defaults=defaults)[0]

    def _user(self, username: str, **fields: Any) -> AbstractBaseUser:
        user, created = get_user_model().objects.get_or_create(username=username, defaults=fields)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _practitioner(self, staff: Staff, clinic: Clinic) -> Practitioner:
        is_admin = staff.role == Practitioner.Role.ADMIN
        user = self._user(
            staff.username,
            first_name=staff.first_name,
            last_name=staff.last_name,
            email=f"{staff.username}@example.com",
            is_staff=is_admin,
        )
        return Practitioner.objects.get_or_create(
            user=user, defaults={"clinic": clinic, "role": staff.role, "title": staff.title}
        )[0]

    def _print_logins(self, profiles: list[Profile]) -> None:
        rows = [("admin", "Django superuser (/admin/)")]
        rows += [(s.username, f"{s.role} at {CLINICS[s.clinic][0]}") for s in STAFF]
        rows += [(p.login, f"patient ({p.first_name} {p.last_name})") for p in profiles if p.login]
        self.stdout.write(self.style.SUCCESS("\nDemo logins"))
        self.stdout.write(f"  {'username':<14} {'password':<13} role")
        for username, role in rows:
            self.stdout.write(f"  {username:<14} {DEMO_PASSWORD:<13} {role}")
        self.stdout.write(f"\nOpen {DEMO_URL}")


class PatientSeeder:
    """Plays one profile's story forward day by day through the services."""

    def __init__(
        self,
        profile: Profile,
        today: dt.date,
        seed: int,
        clinics: dict[str, Clinic],
        staff: dict[str, Practitioner],
    ) -> None:
        self.profile = profile
        self.today = today
        self.zone = zoneinfo.ZoneInfo(profile.tz)
        # One generator per patient: adding or skipping a profile leaves the others unchanged.
        self.rng = random.Random(f"{seed}/{profile.key}")
        self.clinic = clinics[profile.clinic]
        self.therapist = staff[profile.therapist]
        self.start = today - dt.timedelta(weeks=profile.weeks)
        facts = PROTOCOL_FACTS[profile.protocol]
        self.condition, self.approach, self.measure, self.pain_start = facts

    def uuid(self, label: str) -> uuid.UUID:
        return uuid.uuid5(NAMESPACE, f"{self.profile.key}-{label}")

    def at(self, day: dt.date, hour: int, minute: int) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)

    def run(self) -> int:
        """Create the patient and their history; returns 0 when they already exist."""
        p = self.profile
        if Patient.objects.filter(
            clinic=self.clinic, first_name=p.first_name, last_name=p.last_name
        ).exists():
            return 0
        rng = self.rng
        surgical = bool(self.approach)
        age = rng.randint(58, 79) if p.protocol in (THR, OA) else rng.randint(19, 45)
        patient = patient_create(
            clinic=self.clinic,
            therapist=self.therapist,
            first_name=p.first_name,
            last_name=p.last_name,
            condition=self.condition,
            side=p.side,
            date_of_birth=self.today.replace(year=self.today.year - age, day=rng.randint(1, 28)),
            email=f"{p.first_name}.{p.last_name}@example.com".lower(),
            surgery_date=self.start - dt.timedelta(days=rng.randint(3, 9)) if surgical else None,
            surgical_approach=self.approach,
            timezone_name=p.tz,
            reminder_time=dt.time(rng.choice((7, 8, 18, 19)), rng.choice((0, 30))),
        )
        if p.login:
            patient = patient_claim(
                invite_code=patient.invite_code, username=p.login, password=DEMO_PASSWORD
            )
        prescription = program_assign(
            patient=patient,
            prescriber=self.therapist,
            protocol=Protocol.objects.get(slug=p.protocol),
            start_date=self.start,
        )
        self.record_measure(patient, self.start, 0)
        last_session = self.play(patient, prescription)
        if p.arc is Arc.DISCHARGED:
            patient_discharge(patient=patient)
        if p.arc is Arc.RED_FLAG:
            self.report_red_flag(patient)
        if p.arc is Arc.PAIN_SPIKE and last_session is not None:
            # Directly, so the demo alert exists whether or not a Celery worker is running.
            alerts.alerts_evaluate_session(session_id=last_session.pk)
        return 1

    def week_plan(self, day_index: int, total_days: int, sessions_per_week: int) -> set[int]:
        """Which days of this program week (0-6) get a session: adherence times the plan."""
        adherence = self.rng.uniform(0.85, 1.0)
        if self.profile.arc is Arc.FADING:
            progress = day_index / max(total_days, 1)
            adherence = max(0.3, min(0.95, 0.95 - 1.6 * (progress - 0.35)))
        sessions = min(7, round(adherence * sessions_per_week))
        return set(self.rng.sample(range(7), sessions))

    def play(self, patient: Patient, prescription: Prescription) -> SessionLog | None:
        p = self.profile
        phases = list(prescription.protocol.phases.order_by("order"))
        advance_on = {self.start + dt.timedelta(weeks=ph.start_week): ph for ph in phases[1:]}
        last_day = self.today - dt.timedelta(days=LAST_SESSION_DAYS_AGO.get(p.arc, 0))
        total_days = (self.today - self.start).days
        exercises = self.active_exercises(prescription)
        evening = self.rng.random() < 0.5
        session = None
        plan: set[int] = set()
        day = self.start
        while day <= last_day and p.arc is not Arc.NEW:
            if day in advance_on:
                prescription = phase_advance(
                    prescription=prescription, to_phase=advance_on[day], on_date=day
                )
                exercises = self.active_exercises(prescription)
            index = (day - self.start).days
            if index % 7 == 0:  # phases start on program-week boundaries too
                plan = self.week_plan(index, total_days, prescription.sessions_per_week)
            spike = p.arc is Arc.PAIN_SPIKE and day == last_day
            if spike or index % 7 in plan:
                hour = self.rng.randint(18, 19) if evening else self.rng.randint(7, 8)
                performed_at = self.at(day, hour, self.rng.randint(0, 59))
                if performed_at <= timezone.now():
                    session = self.record_session(
                        patient, prescription, exercises, performed_at, index, spike
                    )
            if index == 42:
                self.record_measure(patient, day, 1)
            day += dt.timedelta(days=1)
        if p.arc is Arc.PAUSED:
            program_pause(prescription=prescription, on_date=last_day + dt.timedelta(days=1))
        return session

    @staticmethod
    def active_exercises(prescription: Prescription) -> list[PrescribedExercise]:
        return list(prescription.exercises.filter(active=True).order_by("order", "id"))

    def pain_after(self, index: int) -> int:
        if index < 7:  # steady first week: it is the baseline the pain-spike rule compares to
            return self.pain_start
        slope = 0.015 if self.profile.arc is Arc.FADING else 0.04
        trend = max(1, round(self.pain_start - slope * index))
        return max(0, trend - int(self.rng.random() < 0.25))

    def record_session(
        self,
        patient: Patient,
        prescription: Prescription,
        exercises: list[PrescribedExercise],
        performed_at: dt.datetime,
        index: int,
        spike: bool,
    ) -> SessionLog:
        rng = self.rng
        entries = []
        for item in exercises:
            if rng.random() < 0.06:
                reason = rng.choice(SKIP_REASONS)
                entries.append(ExerciseEntry(item.pk, completed=False, skipped_reason=reason))
            else:
                entries.append(ExerciseEntry(item.pk, item.sets, item.reps, item.hold_seconds))
        pain_after = 8 if spike else self.pain_after(index)
        notes = rng.choice(SESSION_NOTES) if rng.random() < 0.1 else ""
        if spike:
            notes = "Sharp pain in the groin after the bridges, still sore tonight."
        session, _ = session_record(
            patient=patient,
            client_id=self.uuid(performed_at.date().isoformat()),
            performed_at=performed_at,
            prescription_id=prescription.pk,
            pain_before=4 if spike else min(10, max(0, pain_after + rng.choice((-1, 0, 0, 1)))),
            pain_after=pain_after,
            difficulty=8 if spike else rng.randint(3, 6),
            duration_minutes=min(45, max(15, 10 + 3 * len(exercises) + rng.randint(-5, 5))),
            notes=notes,
            entries=entries,
        )
        return session

    def record_measure(self, patient: Patient, day: dt.date, visit: int) -> None:
        taken_at = self.at(day, 10, 0)
        if taken_at > timezone.now():
            return
        gains = (0,) if visit == 0 else (0, 1) if self.profile.arc is Arc.FADING else (1, 1, 2)
        keys = instruments.get_instrument(self.measure).item_keys
        answers = {k: max(0, self.rng.choice((2, 2, 3)) - self.rng.choice(gains)) for k in keys}
        result = instruments.score(self.measure, answers)
        MeasureResponse.objects.get_or_create(
            patient=patient,
            client_id=self.uuid(f"{self.measure}-{visit}"),
            defaults={
                "instrument": self.measure,
                "instrument_version": result.version,
                "answers": answers,
                "raw_score": Decimal(str(result.raw)),
                "score": Decimal(str(result.score)),
                "taken_at": taken_at,
            },
        )

    def report_red_flag(self, patient: Patient) -> None:
        yesterday = self.today - dt.timedelta(days=1)
        checkin, _ = CheckIn.objects.get_or_create(
            patient=patient,
            client_id=self.uuid("checkin-red-flag"),
            defaults={
                "pain_now": 5,
                "answers": {"calf_swelling": True, "fever": False, "chest_pain": False},
                "red_flags": ["calf_swelling"],
                "urgency": "urgent",
                "notes": "My calf has been swollen and tender since yesterday.",
                "created_at": self.at(yesterday, 9, 40),
            },
        )
        alerts.alert_open(
            patient=patient,
            kind="red_flag",
            severity="urgent",
            message="Red flag on check-in: calf swelling (possible clot). Contact the patient "
            "today.",
            details={"checkin_id": checkin.pk, "red_flags": ["calf_swelling"], "urgency": "urgent"},
        )
