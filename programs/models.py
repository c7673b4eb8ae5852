from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.models import Condition


class Exercise(models.Model):
    class Category(models.TextChoices):
        STRETCH = "stretch", "Stretch"
        STRENGTH = "strength", "Strength"
        MOBILITY = "mobility", "Mobility"
        BALANCE = "balance", "Balance"
        CARDIO = "cardio", "Cardio"

    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)
    category = models.CharField(max_length=16, choices=Category.choices)
    instructions = models.TextField()
    cues = models.JSONField(default=list, blank=True)
    default_sets = models.PositiveSmallIntegerField(default=1)
    default_reps = models.PositiveSmallIntegerField(default=10)
    default_hold_seconds = models.PositiveSmallIntegerField(default=0)
    per_side = models.BooleanField(default=False)
    equipment = models.CharField(max_length=120, blank=True)
    precaution_tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Precautions this exercise conflicts with, e.g. hip-flexion-over-90.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(default_sets__gte=1, default_reps__gte=1),
                name="exercise_default_dosage_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def conflicts_with(self, precaution_tags: set[str] | list[str]) -> list[str]:
        return sorted(set(self.precaution_tags) & set(precaution_tags))


class Protocol(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=160)
    condition = models.CharField(max_length=32, choices=Condition.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ProtocolPhase(models.Model):
    protocol = models.ForeignKey(Protocol, on_delete=models.CASCADE, related_name="phases")
    order = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=120)
    start_week = models.PositiveSmallIntegerField(help_text="Weeks since start (0 = first week).")
    end_week = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Exclusive; empty for an open-ended last phase."
    )
    goals = models.TextField(blank=True)
    precautions = models.TextField(blank=True)
    precaution_tags = models.JSONField(default=list, blank=True)
    sessions_per_week = models.PositiveSmallIntegerField(default=5)

    # Structured progression criteria for moving on from this phase.
    min_weeks = models.PositiveSmallIntegerField(default=0)
    max_pain = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_lookback_sessions = models.PositiveSmallIntegerField(default=3)
    min_adherence = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True)
    outcome_instrument = models.CharField(max_length=16, blank=True)
    outcome_min_score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["protocol", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "order"], name="phase_order_unique"),
            models.CheckConstraint(
                condition=Q(end_week__isnull=True) | Q(end_week__gt=models.F("start_week")),
                name="phase_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(sessions_per_week__gte=1, sessions_per_week__lte=14),
                name="phase_sessions_per_week_1_14",
            ),
            models.CheckConstraint(
                condition=Q(max_pain__isnull=True) | Q(max_pain__lte=10),
                name="phase_max_pain_0_10",
            ),
            models.CheckConstraint(
                condition=Q(min_adherence__isnull=True)
                | Q(min_adherence__gte=0, min_adherence__lte=1),
                name="phase_min_adherence_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol.name} — {self.order}. {self.name}"


class ProtocolExercise(models.Model):
    phase = models.ForeignKey(ProtocolPhase, on_delete=models.CASCADE, related_name="exercises")
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    sets = models.PositiveSmallIntegerField()
    reps = models.PositiveSmallIntegerField()
    hold_seconds = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["phase", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["phase", "exercise"], name="phase_exercise_unique"),
            models.CheckConstraint(
                condition=Q(sets__gte=1, reps__gte=1), name="protocol_exercise_dosage_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exercise} {self.sets}×{self.reps}"


class Prescription(models.Model):
    """A patient's home program: from a protocol (phase by phase) or custom."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        COMPLETED = "completed", "Completed"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="prescriptions"
    )
    prescriber = models.ForeignKey(
        "clinic.Practitioner", on_delete=models.PROTECT, related_name="prescriptions"
    )
    protocol = models.ForeignKey(
        Protocol, on_delete=models.PROTECT, null=True, blank=True, related_name="prescriptions"
    )
    name = models.CharField(max_length=160)
    current_phase = models.ForeignKey(
        ProtocolPhase, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    start_date = models.DateField()
    phase_started_on = models.DateField()
    sessions_per_week = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    paused_on = models.DateField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["patient", "status"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "protocol"],
                condition=Q(status__in=["active", "paused"]) & Q(protocol__isnull=False),
                name="one_open_prescription_per_patient_protocol",
            ),
            models.CheckConstraint(
                condition=Q(sessions_per_week__gte=1, sessions_per_week__lte=14),
                name="prescription_sessions_per_week_1_14",
            ),
            models.CheckConstraint(
                condition=Q(phase_started_on__gte=models.F("start_date")),
                name="prescription_phase_not_before_start",
            ),
            models.CheckConstraint(
                condition=~Q(status="paused") | Q(paused_on__isnull=False),
                name="prescription_paused_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_on__isnull=False),
                name="prescription_completed_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"


class PrescriptionPeriod(models.Model):
    """History of a prescription: which phase, and whether paused, over which local dates.

    Adherence needs the planned sessions per day, which depend on the phase in force and on
    pauses; recording each stretch of days lets that be computed in SQL.
    """

    class Kind(models.TextChoices):
        PHASE = "phase", "Phase"
        PAUSE = "pause", "Pause"

    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="periods")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    phase = models.ForeignKey(
        ProtocolPhase, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    sessions_per_week = models.PositiveSmallIntegerField(null=True, blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True, help_text="Exclusive; empty while open.")

    class Meta:
        ordering = ["prescription", "started_on", "id"]
        indexes = [models.Index(fields=["prescription", "kind", "started_on"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
                name="period_end_not_before_start",
            ),
            models.UniqueConstraint(
                fields=["prescription", "kind"],
                condition=Q(ended_on__isnull=True),
                name="one_open_period_per_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.started_on}–{self.ended_on or '…'}"


class PrescribedExercise(models.Model):
    prescription = models.ForeignKey(
        Prescription, on_delete=models.CASCADE, related_name="exercises"
    )
    exercise = models.ForeignKey(Exercise, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)
    sets = models.PositiveSmallIntegerField()
    reps = models.PositiveSmallIntegerField()
    hold_seconds = models.PositiveSmallIntegerField(default=0)
    notes = models.CharField(max_length=500, blank=True)
    active = models.BooleanField(default=True)
    precaution_override = models.BooleanField(
        default=False, help_text="Assigned despite a precaution conflict, by the therapist."
    )
    override_reason = models.CharField(max_length=500, blank=True)
    added_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["prescription", "order", "id"]
        indexes = [models.Index(fields=["prescription", "active", "order"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(sets__gte=1, reps__gte=1), name="prescribed_dosage_positive"
            ),
            models.UniqueConstraint(
                fields=["prescription", "exercise"],
                condition=Q(active=True),
                name="one_active_entry_per_exercise",
            ),
            models.CheckConstraint(
                condition=Q(active=True, removed_at__isnull=True)
                | Q(active=False, removed_at__isnull=False),
                name="prescribed_removed_at_matches_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.exercise} {self.sets}×{self.reps}"


class SessionLog(models.Model):
    """One home-exercise session a patient logged. `client_id` makes uploads idempotent."""

    class Source(models.TextChoices):
        APP = "app", "Patient app"
        SYNC = "sync", "Offline sync"
        CLINIC = "clinic", "Entered by clinic"

    # No single-column indexes for these two: the composite indexes below lead with them, and
    # every upload pays for each index (the patient's also misled the planner into scanning a
    # patient's whole history for a two-week window).
    prescription = models.ForeignKey(
        Prescription, on_delete=models.CASCADE, related_name="sessions", db_index=False
    )
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="sessions", db_index=False
    )
    client_id = models.UUIDField()
    performed_at = models.DateTimeField()
    local_date = models.DateField(help_text="performed_at as a date in the patient's time zone.")
    phase = models.ForeignKey(
        ProtocolPhase, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pain_before = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_after = models.PositiveSmallIntegerField(null=True, blank=True)
    difficulty = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.APP)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-performed_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-performed_at", "-id"]),
            models.Index(fields=["prescription", "local_date"]),
            models.Index(fields=["patient", "local_date"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "client_id"], name="session_client_id_unique_per_patient"
            ),
            models.CheckConstraint(
                condition=Q(pain_before__isnull=True) | Q(pain_before__lte=10),
                name="session_pain_before_0_10",
            ),
            models.CheckConstraint(
                condition=Q(pain_after__isnull=True) | Q(pain_after__lte=10),
                name="session_pain_after_0_10",
            ),
            models.CheckConstraint(
                condition=Q(difficulty__isnull=True) | Q(difficulty__lte=10),
                name="session_difficulty_0_10",
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True) | Q(duration_minutes__lte=600),
                name="session_duration_le_600",
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.local_date} ({self.patient_id})"


class ExerciseLog(models.Model):
    # Indexed by the unique (session, prescribed exercise) key, which leads with the session.
    session = models.ForeignKey(
        SessionLog, on_delete=models.CASCADE, related_name="entries", db_index=False
    )
    prescribed_exercise = models.ForeignKey(
        PrescribedExercise, on_delete=models.PROTECT, related_name="logs"
    )
    sets_done = models.PositiveSmallIntegerField(default=0)
    reps_done = models.PositiveSmallIntegerField(default=0)
    hold_seconds_done = models.PositiveSmallIntegerField(default=0)
    completed = models.BooleanField(default=True)
    skipped_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["session", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "prescribed_exercise"], name="one_entry_per_exercise_per_session"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prescribed_exercise_id}: {self.sets_done}×{self.reps_done}"


class Alert(models.Model):
    class Kind(models.TextChoices):
        PAIN_SPIKE = "pain_spike", "Pain spike"
        RED_FLAG = "red_flag", "Red flag"
        LOW_ADHERENCE = "low_adherence", "Low adherence"
        INACTIVE = "inactive", "Inactive"
        SCORE_DECLINE = "score_decline", "Outcome score decline"

    class Severity(models.TextChoices):
        URGENT = "urgent", "Urgent"
        WARNING = "warning", "Warning"
        INFO = "info", "Info"

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="alerts")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    message = models.CharField(max_length=300)
    details = models.JSONField(default=dict, blank=True)
    opened_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledgement_note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            models.Index(fields=["clinic", "acknowledged_at", "-opened_at"]),
            models.Index(fields=["patient", "acknowledged_at"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind"],
                condition=Q(acknowledged_at__isnull=True),
                name="one_open_alert_per_patient_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} — {self.patient_id}"

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None


class Reminder(models.Model):
    class Kind(models.TextChoices):
        SESSION = "session", "Session reminder"
        MISSED = "missed", "Missed-session nudge"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    # No index of its own: the unique (patient, kind, local_date) key leads with the patient,
    # and a second index on 100,000 rows per dispatch is write cost for nothing.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="reminders", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SESSION)
    local_date = models.DateField()
    channel = models.CharField(max_length=8)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(max_length=120, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A sender's lease, on the database clock: set when a worker claims the row (pending ->
    # sending); a row left in "sending" by a killed worker may be claimed again once the lease
    # has run out. Each claim also increments `attempts`, the sender's fencing token.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher run that created the row: with bulk_create(ignore_conflicts=True) this is
    # how a run knows which rows are its own (and so which to enqueue) under concurrency.
    dispatch_id = models.UUIDField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-local_date", "-id"]
        indexes = [models.Index(fields=["status", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "kind", "local_date"], name="one_reminder_per_patient_kind_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.local_date} → {self.patient_id} ({self.status})"


class DeidentifiedActivity(models.Model):
    """What remains of an erased patient's logs: weekly totals with nothing that identifies them.

    Clinic analytics add these to the live session counts, so totals still add up after an
    erasure.
    """

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.CASCADE, related_name="+")
    condition = models.CharField(max_length=32, choices=Condition.choices)
    protocol = models.ForeignKey(
        Protocol, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    week_start = models.DateField(help_text="Monday of the ISO week (local dates).")
    sessions = models.PositiveIntegerField(default=0)
    pain_after_total = models.PositiveIntegerField(default=0)
    pain_after_count = models.PositiveIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    entries_completed = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["clinic", "week_start"]
        indexes = [models.Index(fields=["clinic", "week_start"])]

    def __str__(self) -> str:
        return f"{self.clinic_id} {self.week_start}: {self.sessions} sessions"
