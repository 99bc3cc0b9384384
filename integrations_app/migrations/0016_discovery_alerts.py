"""The discovery alerts' words on the account, and their change kind (`listing`)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations_app", "0015_merge_acks_discovery")]

    operations = [
        migrations.AlterField(
            model_name="datafastaccount",
            name="alert_on_discovery",
            field=models.BooleanField(
                default=False,
                help_text="Off: websites no longer listed are notices on the pages only. On: an alert too (and when one is listed again). New websites are always notices.",
                verbose_name="Alert when a watched website is no longer listed",
            ),
        ),
        migrations.AlterField(
            model_name="statuschange",
            name="kind",
            field=models.CharField(
                choices=[
                    ("provider", "Provider connection"),
                    ("integration_status", "Integration status"),
                    ("integration_name", "Integration name"),
                    ("integration_appeared", "Integration appeared"),
                    ("source_health", "Polling health"),
                    ("paddle_expiry", "Paddle key expiry"),
                    ("flapping", "Flapping"),
                    ("still_broken", "Still broken after a silence"),
                    ("listing", "Listed by its token"),
                ],
                max_length=24,
            ),
        ),
    ]
