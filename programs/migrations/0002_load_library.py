from django.db import migrations

MODEL_NAMES = ("Exercise", "Protocol", "ProtocolPhase", "ProtocolExercise")


def load_library(apps, schema_editor):
    from programs.library import library_sync
    from programs.library_data import EXERCISES, PROTOCOLS

    models = {name: apps.get_model("programs", name) for name in MODEL_NAMES}
    library_sync(models=models, exercises=EXERCISES, protocols=PROTOCOLS)


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]

    operations = [migrations.RunPython(load_library, migrations.RunPython.noop)]
