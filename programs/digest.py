"""The weekly therapist digest: each therapist's active patients, adherence, pain and alerts.

The numbers come from `programs.selectors.clinic_overview` (the dashboard's overview), so the
e-mail and the dashboard never disagree. At most one digest per therapist per ISO week: the
cache remembers a sent week (Redis in production, shared by the workers).
"""

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import Practitioner
from patients.models import Patient

from .selectors import OverviewRow, clinic_overview

SENT_MARK_SECONDS = 8 * 24 * 60 * 60


class DigestNotSent(Exception):
    """The mail backend refused the digest; the task retries it."""


@dataclass(frozen=True)
class DigestLine:
    name: str
    adherence: float | None
    latest_pain: int | None
    pain_direction: str | None
    last_session_on: dt.date | None
    open_alerts: int
    top_severity: str | None

    @property
    def adherence_percent(self) -> str:
        return "—" if self.adherence is None else f"{round(self.adherence * 100)}%"


@dataclass(frozen=True)
class DigestMessage:
    subject: str
    text: str
    html: str


def digest_recipients() -> list[int]:
    """Therapists with an e-mail address and at least one active patient."""
    active_patients = Patient.objects.filter(therapist=OuterRef("pk"), status=Patient.Status.ACTIVE)
    return list(
        Practitioner.objects.filter(Exists(active_patients))
        .exclude(user__email="")
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def digest_lines(rows: Sequence[OverviewRow]) -> list[DigestLine]:
    """Patients with open alerts first, then the lowest adherence (unknown last)."""
    lines = [
        DigestLine(
            name=row.name,
            adherence=row.adherence_recent,
            latest_pain=row.latest_pain,
            pain_direction=row.pain_direction,
            last_session_on=row.last_session_on,
            open_alerts=row.open_alerts,
            top_severity=row.top_severity,
        )
        for row in rows
    ]
    return sorted(
        lines,
        key=lambda line: (
            -line.open_alerts,
            line.adherence is None,
            line.adherence if line.adherence is not None else 0.0,
            line.name,
        ),
    )


def build_digest_message(
    *,
    therapist_name: str,
    clinic_name: str,
    week_of: dt.date,
    window_days: int,
    lines: Sequence[DigestLine],
) -> DigestMessage:
    """Subject, plain text and HTML of one digest (no database)."""
    subject = f"Stride weekly digest, week of {week_of:%d %b %Y}: {len(lines)} patients"
    context = {
        "therapist_name": therapist_name,
        "clinic_name": clinic_name,
        "week_of": week_of,
        "window_days": window_days,
        "lines": lines,
        "with_alerts": sum(1 for line in lines if line.open_alerts),
        "subject": subject,
    }
    return DigestMessage(
        subject=subject,
        text=render_to_string("email/therapist_digest.txt", context),
        html=render_to_string("email/therapist_digest.html", context),
    )


def therapist_digest_send(*, practitioner_id: int, today: dt.date | None = None) -> bool:
    """E-mail one therapist the digest of their active patients; False if nothing to send.

    Side effect: marks the ISO week as sent in the cache (unmarked again if sending fails).
    """
    therapist = (
        Practitioner.objects.select_related("user", "clinic").filter(pk=practitioner_id).first()
    )
    if therapist is None or not therapist.user.email:
        return False
    clinic = therapist.clinic
    today = today or timezone.now().astimezone(_zone(clinic.timezone)).date()
    week_of = today - dt.timedelta(days=today.weekday())
    patients = Patient.objects.filter(
        therapist=therapist, status=Patient.Status.ACTIVE
    ).select_related("therapist__user")
    rows = clinic_overview(clinic, patients=patients)
    if not rows:
        return False
    mark = f"stride:digest:{therapist.pk}:{week_of.isoformat()}"
    if not cache.add(mark, 1, SENT_MARK_SECONDS):
        return False
    message = build_digest_message(
        therapist_name=therapist.display_name,
        clinic_name=clinic.name,
        week_of=week_of,
        window_days=clinic.adherence_window_days,
        lines=digest_lines(rows),
    )
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[therapist.user.email],
    )
    email.attach_alternative(message.html, "text/html")
    try:
        email.send(fail_silently=False)
    except Exception as exc:
        cache.delete(mark)
        raise DigestNotSent(repr(exc)) from exc
    return True


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC
