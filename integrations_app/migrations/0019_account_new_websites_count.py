"""Each DataFast account keeps its count of new websites, with the versions that say when to count
again (`discovery.with_notices`): existing accounts start uncounted."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations_app", "0018_account_listed_website_ids"),
    ]

    operations = [
        migrations.AddField(
            model_name="datafastaccount",
            name="new_websites",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="datafastaccount",
            name="new_websites_version",
            field=models.BigIntegerField(default=-1, editable=False),
        ),
        migrations.AddField(
            model_name="datafastaccount",
            name="notices_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
