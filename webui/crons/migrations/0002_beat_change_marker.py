"""django-celery-beat's change marker (PeriodicTasks, ident 1) from the start.

Beat notices a new or changed PeriodicTask by that row's timestamp moving past the one it read
before; with no row when beat starts it reads nothing, and then takes the first change's
timestamp for the old one (``ts > (last or ts)``): on a fresh install the first cron registered
while beat ran never fired until beat restarted."""

from __future__ import annotations

from django.db import migrations
from django.utils import timezone


def mark(apps, schema_editor):  # type: ignore[no-untyped-def]
    changes = apps.get_model("django_celery_beat", "PeriodicTasks")
    changes.objects.get_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [("crons", "0001_initial")]

    operations = [migrations.RunPython(mark, migrations.RunPython.noop)]
