import datetime as dt
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from clinic.models import Clinic, Practitioner

from .models import Patient
from .precautions import default_precautions, unknown_precautions

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone
INVITE_LENGTH = 8

REMINDER_FIELDS = (
    "reminders_enabled",
    "reminder_time",
    "reminder_weekdays",
    "reminder_channel",
    "quiet_hours_start",
    "quiet_hours_end",
    "timezone",
)


def _new_invite_code() -> str:
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))


def _invite_expiry() -> dt.datetime:
    return timezone.now() + dt.timedelta(days=settings.STRIDE_INVITE_TTL_DAYS)


@transaction.atomic
def patient_create(
    *,
    clinic: Clinic,
    therapist: Practitioner,
    first_name: str,
    last_name: str,
    condition: str,
    side: str,
    date_of_birth: dt.date | None = None,
    email: str = "",
    phone: str = "",
    surgery_date: dt.date | None = None,
    surgical_approach: str = "",
    precaution_tags: list[str] | None = None,
    timezone_name: str | None = None,
    reminder_time: dt.time | None = None,
) -> Patient:
    """Create a patient record with an open invite code their app can claim."""
    if therapist.clinic_id != clinic.pk:
        raise ValidationError({"therapist": ["The therapist works at another clinic."]})
    if precaution_tags is None:
        precaution_tags = default_precautions(condition, surgical_approach)
    if unknown := unknown_precautions(precaution_tags):
        raise ValidationError({"precaution_tags": [f"Unknown precaution: {t}" for t in unknown]})
    patient = Patient(
        clinic=clinic,
        therapist=therapist,
        first_name=first_name,
        last_name=last_name,
        date_of_birth=date_of_birth,
        email=email,
        phone=phone,
        condition=condition,
        side=side,
        surgery_date=surgery_date,
        surgical_approach=surgical_approach,
        precaution_tags=sorted(set(precaution_tags)),
        timezone=timezone_name or clinic.timezone,
        reminder_time=reminder_time or clinic.default_reminder_time,
        invite_code=_new_invite_code(),
        invite_expires_at=_invite_expiry(),
    )
    patient.full_clean(exclude=["user", "invite_code"])
    patient.save()
    return patient


@transaction.atomic
def patient_invite_regenerate(*, patient: Patient) -> Patient:
    """Replace the invite code (the old one stops working) and restart its expiry."""
    if patient.user_id is not None:
        raise ValidationError({"invite_code": ["This patient has already claimed an account."]})
    patient.invite_code = _new_invite_code()
    patient.invite_expires_at = _invite_expiry()
    patient.save(update_fields=["invite_code", "invite_expires_at", "updated_at"])
    return patient


@transaction.atomic
def patient_claim(*, invite_code: str, username: str, password: str) -> Patient:
    """Create the patient's login from an open invite code; the code then stops working."""
    invalid = ValidationError({"invite_code": ["This invite code is not valid or has expired."]})
    code = invite_code.strip().upper()
    patient = (
        Patient.objects.select_for_update()
        .filter(invite_code=code, user__isnull=True, status=Patient.Status.ACTIVE)
        .first()
    )
    if patient is None or not patient.invite_is_open:
        raise invalid
    user_model = get_user_model()
    if user_model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": ["This username is taken."]})
    user = user_model(
        username=username,
        first_name=patient.first_name,
        last_name=patient.last_name,
        email=patient.email,
    )
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError as exc:
        raise ValidationError({"username": ["This username is taken."]}) from exc
    patient.user = user
    patient.invite_code = None
    patient.invite_expires_at = None
    patient.invite_claimed_at = timezone.now()
    patient.save(
        update_fields=[
            "user",
            "invite_code",
            "invite_expires_at",
            "invite_claimed_at",
            "updated_at",
        ]
    )
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, **changes: Any) -> Patient:
    """Change a patient's record (demographics, clinical fields, reminder preferences)."""
    allowed = {
        "first_name",
        "last_name",
        "date_of_birth",
        "email",
        "phone",
        "condition",
        "side",
        "surgery_date",
        "surgical_approach",
        "precaution_tags",
        "therapist",
        "adherence_alert_below",
        "inactive_after_days",
        "pain_spike_absolute",
        *REMINDER_FIELDS,
    }
    if unexpected := set(changes) - allowed:
        raise ValidationError({name: ["This field cannot be changed."] for name in unexpected})
    if "therapist" in changes and changes["therapist"].clinic_id != patient.clinic_id:
        raise ValidationError({"therapist": ["The therapist works at another clinic."]})
    if "precaution_tags" in changes:
        if unknown := unknown_precautions(changes["precaution_tags"]):
            raise ValidationError(
                {"precaution_tags": [f"Unknown precaution: {t}" for t in unknown]}
            )
        changes["precaution_tags"] = sorted(set(changes["precaution_tags"]))
    for name, value in changes.items():
        setattr(patient, name, value)
    _validate_quiet_hours(patient)
    patient.full_clean(exclude=["user", "invite_code", "clinic"])
    patient.save(update_fields=[*changes, "updated_at"])
    return patient


def patient_update_reminders(*, patient: Patient, **preferences: Any) -> Patient:
    """Change only reminder preferences (the fields a patient may edit themself)."""
    if unexpected := set(preferences) - set(REMINDER_FIELDS):
        raise ValidationError({name: ["This field cannot be changed."] for name in unexpected})
    return patient_update(patient=patient, **preferences)


def _validate_quiet_hours(patient: Patient) -> None:
    if (patient.quiet_hours_start is None) != (patient.quiet_hours_end is None):
        raise ValidationError(
            {"quiet_hours_end": ["Give both the start and the end of quiet hours, or neither."]}
        )
