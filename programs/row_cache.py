"""The patient list's rows, kept in the cache per patient until something they show changes.

A page of the therapist's patient list is 50 rows of figures (the program shown, adherence
over the clinic's window, last session and its pain, pain direction, open alerts): three
queries and most of the list's CPU to compute (`programs.overview`), and they change only when
the patient's data does or their day turns. So each row is kept (Redis in production) with:

- a stamp read with the page itself: the patient's `updated_at` (their own columns), their
  local date (adherence and weeks move with the day) and the clinic's adherence window;
- the patient's row token: a random value replaced after the commit of every write that
  changes what the row shows (`rows_forget`). The token is read before the figures are
  computed and kept with them, so a row computed from data a concurrent write has since
  replaced carries the old token and is never served; random values never repeat, so a token
  lost to eviction cannot make an old row look current.

Writes that replace the token: ORM saves and deletes of the patient's programs, program periods,
sessions and alerts (signals below: the services, the admin, erasure); the session upload's own
insert, which sends no signal (`services.session_record`); a therapist's name, title or role
(their patients' rows); a protocol's or phase's name (rows of programs on it). A write that
goes around all of these (raw SQL, `QuerySet.update()` outside the services) shows within
`ROW_SECONDS`. The tokens are written in the transaction's one batch of cache writes after
commit (`clinic.cache_writes`): the upload's is sent with its kept answer, in one round trip.

A cache that is down costs the computation, not the list.
"""

import datetime as dt
import logging
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.db.models.signals import post_delete, post_save

from clinic.cache_writes import set_after_commit
from clinic.models import Practitioner
from patients.models import Patient

from .models import Alert, Prescription, PrescriptionPeriod, Protocol, ProtocolPhase, SessionLog

logger = logging.getLogger(__name__)

ROW_SECONDS = 10 * 60
TOKEN_SECONDS = 24 * 60 * 60  # longer than a row lives, so a live row's token is there
ROW_FORMAT = 1  # change when a row's shape changes: rows of the old shape are never read

Stamp = tuple[dt.datetime, dt.date, int]  # patient's updated_at, local date, window days
Row = dict[str, Any]


def _row_key(patient_id: int) -> str:
    return f"patient-row:{ROW_FORMAT}:{patient_id}"


def _token_key(patient_id: int) -> str:
    return f"patient-row-token:{patient_id}"


def rows_forget(patient_ids: Iterable[int | None]) -> None:
    """The kept list rows of these patients are out of date once the current transaction
    commits (at once outside one)."""
    ids = {patient_id for patient_id in patient_ids if patient_id is not None}
    set_after_commit({_token_key(pk): secrets.token_hex(8) for pk in ids}, TOKEN_SECONDS)


def rows_cached(stamps: Mapping[int, Stamp]) -> tuple[dict[int, Row], dict[int, Any] | None]:
    """The kept rows still current for these patients (by id), and the tokens read with
    them, to keep the missing rows under (None when the cache is down: keep nothing)."""
    if not stamps or not settings.STRIDE_LIST_ROW_CACHE:
        return {}, None
    keys = [_row_key(pk) for pk in stamps] + [_token_key(pk) for pk in stamps]
    try:
        found = cache.get_many(keys)
    except Exception:
        logger.warning("list row cache unavailable", exc_info=True)
        return {}, None
    tokens = {pk: found.get(_token_key(pk)) for pk in stamps}
    rows = {}
    for pk, stamp in stamps.items():
        kept = found.get(_row_key(pk))
        if kept is not None and kept[0] == tokens[pk] and kept[1] == stamp:
            rows[pk] = kept[2]
    return rows, tokens


def rows_keep(
    rows: Mapping[int, Row], stamps: Mapping[int, Stamp], tokens: Mapping[int, Any] | None
) -> None:
    """Keep freshly computed rows under the stamps and tokens read before computing them."""
    if not rows or tokens is None:
        return
    try:
        cache.set_many(
            {_row_key(pk): (tokens[pk], stamps[pk], row) for pk, row in rows.items()},
            ROW_SECONDS,
        )
    except Exception:
        logger.warning("list row cache unavailable", exc_info=True)


# --- the writes that move a row out of date (connected in ProgramsConfig.ready) -------------


def _patient_owned(sender: type, instance: Any, **kwargs: Any) -> None:
    rows_forget([instance.patient_id])


def _period_changed(sender: type, instance: PrescriptionPeriod, **kwargs: Any) -> None:
    program = instance._state.fields_cache.get("prescription")
    if program is not None:
        rows_forget([program.patient_id])
        return
    # A period deleted with its program: the program's own delete forgets the row.
    rows_forget(
        Prescription.objects.filter(pk=instance.prescription_id).values_list(
            "patient_id", flat=True
        )
    )


THERAPIST_USER_FIELDS = frozenset({"first_name", "last_name", "username"})


def _user_saved(sender: type, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # A login saves `last_login` only: nothing a row shows.
    if update_fields is not None and not THERAPIST_USER_FIELDS.intersection(update_fields):
        return
    rows_forget(Patient.objects.filter(therapist__user_id=instance.pk).values_list("pk", flat=True))


def _practitioner_saved(sender: type, instance: Practitioner, **kwargs: Any) -> None:
    rows_forget(Patient.objects.filter(therapist=instance).values_list("pk", flat=True))


def _library_changed(sender: type, instance: Protocol | ProtocolPhase, **kwargs: Any) -> None:
    shown = (
        Q(protocol=instance)
        if isinstance(instance, Protocol)
        else Q(protocol_id=instance.protocol_id) | Q(current_phase=instance)
    )
    rows_forget(Prescription.objects.filter(shown).values_list("patient_id", flat=True))


def connect_signals() -> None:
    from django.contrib.auth import get_user_model

    for model in (SessionLog, Alert, Prescription):
        post_save.connect(_patient_owned, sender=model, dispatch_uid=f"row_cache:{model.__name__}")
        post_delete.connect(
            _patient_owned, sender=model, dispatch_uid=f"row_cache:{model.__name__}:delete"
        )
    post_save.connect(_period_changed, sender=PrescriptionPeriod, dispatch_uid="row_cache:period")
    post_delete.connect(
        _period_changed, sender=PrescriptionPeriod, dispatch_uid="row_cache:period:delete"
    )
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="row_cache:user")
    post_save.connect(_practitioner_saved, sender=Practitioner, dispatch_uid="row_cache:staff")
    for model in (Protocol, ProtocolPhase):
        post_save.connect(
            _library_changed, sender=model, dispatch_uid=f"row_cache:{model.__name__}"
        )
