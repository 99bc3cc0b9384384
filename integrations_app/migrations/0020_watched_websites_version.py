"""The watched websites' version moves from every account's row to one row of its own (see
`datafast.models.WatchedWebsites`); every kept count of new websites is taken again once."""

from django.db import migrations, models


def make_the_row(apps, schema_editor):  # type: ignore[no-untyped-def]
    apps.get_model("integrations_app", "WatchedWebsites").objects.create(pk=1)


class Migration(migrations.Migration):
    dependencies = [
        ("integrations_app", "0019_account_new_websites_count"),
    ]

    operations = [
        migrations.CreateModel(
            name="WatchedWebsites",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.BigIntegerField(default=0)),
            ],
            options={
                "verbose_name": "watched websites' version",
            },
        ),
        migrations.AddField(
            model_name="datafastaccount",
            name="new_websites_watch_version",
            field=models.BigIntegerField(default=-1, editable=False),
        ),
        migrations.RunPython(make_the_row, migrations.RunPython.noop),
    ]
