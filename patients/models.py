import datetime as dt
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

ALL_WEEKDAYS = 0b1111111  # bit 0 = Monday … bit 6 = Sunday (date.weekday())


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"'{value}' is not a known IANA time zone.") from exc


class Condition(models.TextChoices):
    TOTAL_HIP_REPLACEMENT = "total_hip_replacement", "Total hip replacement"
    HIP_LABRUM_TEAR = "hip_labrum_tear", "Hip labrum tear"
    PATELLOFEMORAL_PAIN = "patellofemoral_pain", "Knee pain (patellofemoral)"
    HIP_OSTEOARTHRITIS = "hip_osteoarthritis", "Hip osteoarthritis"
    OTHER = "other", "Other"


class Patient(models.Model):
    class Side(models.TextChoices):
        LEFT = "left", "Left"
        RIGHT = "right", "Right"
        BOTH = "both", "Both"

    class SurgicalApproach(models.TextChoices):
        NONE = "", "No surgery / not applicable"
        POSTERIOR = "posterior", "Posterior"
        ANTERIOR = "anterior", "Anterior"
        LATERAL = "lateral", "Lateral"
        ARTHROSCOPIC = "arthroscopic", "Arthroscopic"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DISCHARGED = "discharged", "Discharged"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"
        PUSH = "push", "Push notification"

    clinic = models.ForeignKey("clinic.Clinic", on_delete=models.PROTECT, related_name="patients")
    therapist = models.ForeignKey(
        "clinic.Practitioner",
        on_delete=models.PROTECT,
        related_name="patients",
        help_text="Primary therapist.",
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient",
        help_text="Set when the patient claims their invite.",
    )

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True)

    condition = models.CharField(max_length=32, choices=Condition.choices)
    side = models.CharField(max_length=8, choices=Side.choices)
    surgery_date = models.DateField(null=True, blank=True)
    surgical_approach = models.CharField(
        max_length=16, choices=SurgicalApproach.choices, blank=True, default=""
    )
    precaution_tags = models.JSONField(
        default=list,
        blank=True,
        help_text="Movement precautions in force for this patient, e.g. hip-flexion-over-90.",
    )
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    discharged_at = models.DateTimeField(null=True, blank=True)
    erased_at = models.DateTimeField(
        null=True, blank=True, help_text="Personal data erased on request; the row is a stub."
    )

    # Per-patient overrides of the clinic's alert thresholds (null = clinic setting).
    adherence_alert_below = models.DecimalField(
        max_digits=3, decimal_places=2, null=True, blank=True
    )
    inactive_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    pain_spike_absolute = models.PositiveSmallIntegerField(null=True, blank=True)

    # Reminder preferences.
    reminders_enabled = models.BooleanField(default=True)
    reminder_time = models.TimeField(default=dt.time(18, 0), help_text="Local time.")
    reminder_weekdays = models.PositiveSmallIntegerField(
        default=ALL_WEEKDAYS, help_text="Bit mask, bit 0 = Monday … bit 6 = Sunday."
    )
    reminder_channel = models.CharField(max_length=8, choices=Channel.choices, default="email")
    quiet_hours_start = models.TimeField(null=True, blank=True)
    quiet_hours_end = models.TimeField(null=True, blank=True)

    # Invite: the therapist creates the record, the patient's app claims it with this code.
    invite_code = models.CharField(max_length=16, unique=True, null=True, blank=True)
    invite_expires_at = models.DateTimeField(null=True, blank=True)
    invite_claimed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [
            # The clinic's patient list, in its default order (API and dashboard).
            models.Index(fields=["clinic", "last_name", "first_name", "id"]),
            models.Index(fields=["therapist", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reminder_weekdays__gte=0, reminder_weekdays__lte=ALL_WEEKDAYS),
                name="patient_reminder_weekdays_mask",
            ),
            models.CheckConstraint(
                condition=models.Q(pain_spike_absolute__isnull=True)
                | models.Q(pain_spike_absolute__lte=10),
                name="patient_pain_spike_absolute_le_10",
            ),
            models.CheckConstraint(
                condition=models.Q(adherence_alert_below__isnull=True)
                | models.Q(adherence_alert_below__gte=0, adherence_alert_below__lte=1),
                name="patient_adherence_alert_below_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(status="active", discharged_at__isnull=True)
                | models.Q(status="discharged", discharged_at__isnull=False),
                name="patient_discharged_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    def local_now(self) -> dt.datetime:
        return timezone.now().astimezone(self.tzinfo)

    def local_date(self, moment: dt.datetime | None = None) -> dt.date:
        return (moment or timezone.now()).astimezone(self.tzinfo).date()

    @property
    def invite_is_open(self) -> bool:
        return bool(
            self.invite_code
            and self.user_id is None
            and self.invite_expires_at
            and self.invite_expires_at > timezone.now()
        )

    def reminder_on_weekday(self, weekday: int) -> bool:
        return bool(self.reminder_weekdays & (1 << weekday))


class MeasureResponse(models.Model):
    """One completed outcome-measure questionnaire, stored so its score can be recomputed."""

    class Instrument(models.TextChoices):
        NPRS = "nprs", "NPRS (pain 0–10)"
        HOOS_JR = "hoos_jr", "HOOS JR"
        KOOS_JR = "koos_jr", "KOOS JR"
        LEFS = "lefs", "LEFS"
        PSFS = "psfs", "PSFS"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="measures")
    instrument = models.CharField(max_length=16, choices=Instrument.choices)
    instrument_version = models.CharField(max_length=16)
    answers = models.JSONField()
    raw_score = models.DecimalField(max_digits=7, decimal_places=3)
    score = models.DecimalField(max_digits=7, decimal_places=3)
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["patient", "instrument", "taken_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "client_id"], name="measure_client_id_unique_per_patient"
            ),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100), name="measure_score_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_instrument_display()} {self.score} ({self.taken_at:%Y-%m-%d})"


class CheckIn(models.Model):
    """A symptom check-in: pain now and the answers to the red-flag questions."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="checkins")
    pain_now = models.PositiveSmallIntegerField()
    answers = models.JSONField(default=dict, help_text="Red-flag question key -> yes/no.")
    red_flags = models.JSONField(default=list, help_text="Keys of the questions answered yes.")
    urgency = models.CharField(max_length=16, blank=True, help_text="emergency, urgent, review")
    notes = models.TextField(blank=True, max_length=2000)
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["patient", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(pain_now__lte=10), name="checkin_pain_0_10"),
            models.UniqueConstraint(
                fields=["patient", "client_id"], name="checkin_client_id_unique_per_patient"
            ),
        ]

    def __str__(self) -> str:
        return f"Check-in {self.patient_id} {self.created_at:%Y-%m-%d %H:%M}"
