import pytest
from django.db import connection

from clinic.rows import Columns, split_row
from programs.models import Prescription

pytestmark = pytest.mark.django_db

# Out of the model's order on purpose: values must still land on the right fields.
SOME = ("status", "completed_on", "id", "start_date", "current_phase", "patient")


def test_some_columns_load_as_only_loads_them(prescription):
    columns = Columns.of(Prescription, "rx", SOME)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {columns.select_list()} FROM {Prescription._meta.db_table} rx "  # noqa: S608
            "WHERE rx.id = %s",
            [prescription.pk],
        )
        row = cursor.fetchone()

    loaded = columns.instance(row)
    expected = Prescription.objects.only(*SOME).get(pk=prescription.pk)

    assert loaded.get_deferred_fields() == expected.get_deferred_fields()
    for name in ("id", "patient_id", "status", "start_date", "current_phase_id", "completed_on"):
        assert getattr(loaded, name) == getattr(expected, name)
    assert type(loaded.start_date).__name__ == "date"  # converted on SQLite, native on PG
    assert not loaded._state.adding


def test_a_row_splits_into_its_parts_and_a_missing_join_is_none(prescription):
    program = Columns.of(Prescription, "rx", ("id", "status"))
    other = Columns.of(Prescription, "other", ("id", "status"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {program.select_list()}, {other.select_list()} "  # noqa: S608
            f"FROM {Prescription._meta.db_table} rx "
            f"LEFT JOIN {Prescription._meta.db_table} other ON other.id = -1 WHERE rx.id = %s",
            [prescription.pk],
        )
        row = cursor.fetchone()

    mine, missing = split_row(row, [program, other])

    assert program.instance(mine).pk == prescription.pk
    assert other.instance(missing) is None
