"""The patient list's rows, kept in the cache per patient until something they show changes.

A page of the therapist's patient list is 50 rows of figures (the program shown, adherence
over the clinic's window, last session and its pain, pain direction, open alerts): three
queries and most of the list's CPU to compute (`programs.overview`), and they change only when
the patient's data does or their day turns. So each row is kept as the API renders it (Redis
in production) with:

- a stamp read with the page itself: the patient's local date (adherence and weeks move with
  the day) and the clinic's adherence window;
- the patient's row token: a random value replaced after the commit of every write that
  changes what the row shows (`rows_forget`). The token is read before the row is computed
  and kept with it, so a row computed from data a concurrent write has since replaced carries
  the old token and is never served. A patient without a token gets one before their row is
  computed (`SET NX`), and random values never repeat, so a token lost to eviction cannot
  make an old row look current.

The key names the rendering and a digest of the code that computes and renders rows, so a
deploy never serves rows of the old code.

Writes that replace the token: ORM saves and deletes of the patient, their programs, program
periods, sessions and alerts (signals below: the services, the admin, erasure; a record moved
to another patient replaces the token of the one it leaves too); the session
upload's own insert, which sends no signal (`services.session_record`); a therapist's name,
title or role (their patients' rows); a protocol's or phase's name (rows of programs on it).
A write that goes around all of these (raw SQL, `QuerySet.update()`) shows within
`ROW_SECONDS`. The tokens are written in the transaction's one batch of cache writes after
commit (`clinic.cache_writes`): the upload's is sent with its kept answer, in one round trip.

A cache that is down costs the computation, not the list.
"""

import datetime as dt
import hashlib
import importlib
import logging
import secrets
from collections.abc import Callable, Iterable, Mapping
from functools import cache as memoize
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.db.models.signals import post_delete, post_save, pre_save

from clinic.cache_writes import add_now, set_after_commit, write_now
from clinic.models import Practitioner
from patients.models import Patient

from .models import Alert, Prescription, PrescriptionPeriod, Protocol, ProtocolPhase, SessionLog

logger = logging.getLogger(__name__)

ROW_SECONDS = 10 * 60
TOKEN_SECONDS = 24 * 60 * 60  # longer than a row lives, so a live row's token is there

Stamp = tuple[dt.date, int]  # the patient's local date, the clinic's adherence window (days)
Render = Callable[[dict[str, Any]], Any]


@memoize
def _rendering(render: Render) -> str:
    """The rendering's name and a digest of the code that computes and renders rows."""
    digest = hashlib.blake2b(digest_size=6)
    names = {
        render.__module__,
        "programs.selectors",
        "programs.overview",
        "programs.adherence",
        "programs.pain",
        "programs.library_data",  # protocol and phase names a data migration may change
        __name__,
    }
    for name in sorted(names):
        path = getattr(importlib.import_module(name), "__file__", None)
        digest.update(Path(path).read_bytes() if path else name.encode())
    return f"{render.__qualname__}:{digest.hexdigest()}"


def _row_key(render: Render, patient_id: int) -> str:
    return f"patient-row:{_rendering(render)}:{patient_id}"


def _token_key(patient_id: int) -> str:
    return f"patient-row-token:{patient_id}"


def rows_forget(patient_ids: Iterable[int | None]) -> None:
    """The kept list rows of these patients are out of date once the current transaction
    commits (at once outside one)."""
    ids = {patient_id for patient_id in patient_ids if patient_id is not None}
    set_after_commit({_token_key(pk): secrets.token_hex(8) for pk in ids}, TOKEN_SECONDS)


def rows_cached(
    render: Render, stamps: Mapping[int, Stamp]
) -> tuple[dict[int, Any], dict[int, Any] | None]:
    """The rows `render` made that are still current for these patients (by id), and the
    tokens read with them, to keep the missing rows under (None when the cache is down or
    the cache is off: keep nothing)."""
    if not stamps or not settings.STRIDE_LIST_ROW_CACHE:
        return {}, None
    row_keys = [_row_key(render, pk) for pk in stamps]
    token_keys = [_token_key(pk) for pk in stamps]
    try:
        found = cache.get_many(row_keys + token_keys)
    except Exception:
        logger.warning("list row cache unavailable", exc_info=True)
        return {}, None
    tokens = {pk: found.get(key) for pk, key in zip(stamps, token_keys, strict=True)}
    rows = {}
    for (pk, stamp), key in zip(stamps.items(), row_keys, strict=True):
        kept = found.get(key)
        token = tokens[pk]
        if kept is not None and token is not None and kept[0] == token and kept[1] == stamp:
            rows[pk] = kept[2]
    # A row is never kept without a token (a later write's token, if evicted, would bring the
    # absent value back): patients with none get one, unless a writer set one meanwhile.
    if untokened := [pk for pk in stamps if pk not in rows and tokens[pk] is None]:
        try:
            created = add_now(
                {_token_key(pk): secrets.token_hex(8) for pk in untokened}, TOKEN_SECONDS
            )
        except Exception:
            logger.warning("list row cache unavailable", exc_info=True)
            return rows, None
        tokens.update({pk: created.get(_token_key(pk)) for pk in untokened})
    return rows, tokens


def rows_keep(
    render: Render,
    rows: Mapping[int, Any],
    stamps: Mapping[int, Stamp],
    tokens: Mapping[int, Any] | None,
) -> None:
    """Keep freshly rendered rows under the stamps and tokens read before computing them."""
    if not rows or tokens is None:
        return
    try:
        write_now(
            {
                _row_key(render, pk): ((tokens[pk], stamps[pk], row), ROW_SECONDS)
                for pk, row in rows.items()
                if tokens.get(pk) is not None
            }
        )
    except Exception:
        logger.warning("list row cache unavailable", exc_info=True)


# --- the writes that move a row out of date (connected in ProgramsConfig.ready) -------------


def _patient_owned(sender: type, instance: Any, **kwargs: Any) -> None:
    rows_forget([instance.patient_id])


def _patient_changing(
    sender: type, instance: Any, update_fields: Any = None, **kwargs: Any
) -> None:
    """A session, alert or program moved to another patient (the admin allows it): the row of
    the patient it leaves is out of date too. Only a full save, or one naming the patient, of
    a stored row asks the database."""
    if instance._state.adding or instance.pk is None:
        return
    if update_fields is not None and not {"patient", "patient_id"} & set(update_fields):
        return
    before = sender._default_manager.filter(pk=instance.pk).values_list("patient_id", flat=True)
    rows_forget([pk for pk in before if pk != instance.patient_id])


def _patient_changed(sender: type, instance: Patient, **kwargs: Any) -> None:
    rows_forget([instance.pk])


def _period_changed(sender: type, instance: PrescriptionPeriod, **kwargs: Any) -> None:
    program = instance._state.fields_cache.get("prescription")
    if program is not None:
        rows_forget([program.patient_id])
        return
    # Its program not loaded (the admin, or a cascade from the program, whose own delete
    # forgets the row too): the program names the patient.
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
        # Each names its patient (a patient's own save too, below).
        pre_save.connect(
            _patient_changing, sender=model, dispatch_uid=f"row_cache:{model.__name__}:move"
        )
        post_save.connect(_patient_owned, sender=model, dispatch_uid=f"row_cache:{model.__name__}")
        post_delete.connect(
            _patient_owned, sender=model, dispatch_uid=f"row_cache:{model.__name__}:delete"
        )
    post_save.connect(_patient_changed, sender=Patient, dispatch_uid="row_cache:patient")
    post_delete.connect(_patient_changed, sender=Patient, dispatch_uid="row_cache:patient:delete")
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
