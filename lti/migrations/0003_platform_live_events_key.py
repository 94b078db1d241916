# Each existing platform gets its own key: AddField evaluates a callable default once for all
# rows, so the column is added nullable, filled row by row, then made unique and required.

from django.db import migrations, models

import lti.models


def fill_keys(apps, schema_editor):
    Platform = apps.get_model("lti", "Platform")
    for platform in Platform.objects.filter(live_events_key__isnull=True).only("pk"):
        platform.live_events_key = lti.models.new_live_events_key()
        platform.save(update_fields=["live_events_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("lti", "0002_platform_accept_new_deployments"),
    ]

    operations = [
        migrations.AddField(
            model_name="platform",
            name="canvas_guid",
            field=models.CharField(blank=True, editable=False, max_length=255),
        ),
        migrations.AddField(
            model_name="platform",
            name="live_events_key",
            field=models.CharField(editable=False, max_length=64, null=True),
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="platform",
            name="live_events_key",
            field=models.CharField(default=lti.models.new_live_events_key, editable=False, max_length=64, unique=True),
        ),
    ]
