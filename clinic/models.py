import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class Clinic(models.Model):
    """A practice. Every patient, practitioner and alert belongs to exactly one."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    timezone = models.CharField(max_length=64, default="UTC")

    # Progress-engine thresholds (clinic settings; patients may override some).
    adherence_on_track = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=0.80,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Adherence at or above this share of planned sessions counts as on track.",
    )
    adherence_alert_below = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=0.50,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="Adherence below this share over the adherence window opens an alert.",
    )
    adherence_window_days = models.PositiveSmallIntegerField(default=14)
    inactive_after_days = models.PositiveSmallIntegerField(
        default=5, help_text="Open an 'inactive' alert after this many days without a session."
    )
    pain_spike_over_baseline = models.PositiveSmallIntegerField(
        default=2, help_text="Pain after a session this many points above baseline is a spike."
    )
    pain_spike_absolute = models.PositiveSmallIntegerField(
        default=7, help_text="Pain after a session at or above this value is a spike."
    )

    # Reminder defaults for new patients.
    default_reminder_time = models.TimeField(default=dt.time(18, 0))
    reminder_fatigue_limit = models.PositiveSmallIntegerField(
        default=3,
        help_text="After this many reminders in a row with no session, remind every other day.",
    )
    missed_session_nudge = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(adherence_on_track__gte=0, adherence_on_track__lte=1),
                name="clinic_adherence_on_track_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(adherence_alert_below__gte=0, adherence_alert_below__lte=1),
                name="clinic_adherence_alert_below_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(pain_spike_absolute__lte=10),
                name="clinic_pain_spike_absolute_le_10",
            ),
            models.CheckConstraint(
                condition=models.Q(adherence_window_days__gte=1),
                name="clinic_adherence_window_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Practitioner(models.Model):
    """Staff profile on auth.User: a therapist or a clinic admin of one clinic."""

    class Role(models.TextChoices):
        THERAPIST = "therapist", "Therapist"
        ADMIN = "admin", "Clinic admin"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="practitioner"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="practitioners")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.THERAPIST)
    title = models.CharField(max_length=80, blank=True, help_text="e.g. PT, DPT")

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        full_name = self.user.get_full_name()
        return full_name or self.user.get_username()

    @property
    def is_admin(self) -> bool:
        return self.role == self.Role.ADMIN


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs: object) -> int:
        raise PermissionError("The audit trail is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(models.Model):
    """Who saw or changed which patient's data, when, from where. Append-only.

    Patients are referenced by id, not by foreign key, so erasing a patient cannot break or
    rewrite the trail; the trail itself holds no names.
    """

    class Action(models.TextChoices):
        LIST = "list", "Listed"
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        UPDATE = "update", "Updated"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        ERASE = "erase", "Erased"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    role = models.CharField(max_length=16)
    clinic_id = models.BigIntegerField(null=True, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=16, choices=Action.choices)
    object_type = models.CharField(max_length=40)
    object_id = models.CharField(max_length=64, blank=True)
    method = models.CharField(max_length=8, blank=True)
    path = models.CharField(max_length=300, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["clinic_id", "-occurred_at"]),
            models.Index(fields=["patient_id", "-occurred_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.role} {self.action} {self.object_type}"

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit trail is append-only.")
