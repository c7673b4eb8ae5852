from django.db import migrations

# On PostgreSQL the database itself refuses to change or delete audit rows. (TRUNCATE, which
# test teardown uses, does not fire row triggers.) SQLite relies on the ORM guards only.
CREATE = """
CREATE OR REPLACE FUNCTION clinic_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'clinic_auditevent is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS clinic_auditevent_append_only ON clinic_auditevent;
CREATE TRIGGER clinic_auditevent_append_only
    BEFORE UPDATE OR DELETE ON clinic_auditevent
    FOR EACH ROW EXECUTE FUNCTION clinic_auditevent_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS clinic_auditevent_append_only ON clinic_auditevent;
DROP FUNCTION IF EXISTS clinic_auditevent_append_only();
"""


def create_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0002_audit_event")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
