"""The IDs of each account's listing beside it (`DataFastAccount.set_listing`): the overview's
notices read them instead of decoding every listing."""

from typing import Any

from django.db import migrations, models


def copy_ids(apps: Any, schema_editor: Any) -> None:
    account_model = apps.get_model("integrations_app", "DataFastAccount")
    for account in account_model.objects.only("pk", "listed_websites"):
        ids = [entry["id"] for entry in account.listed_websites if isinstance(entry, dict) and "id" in entry]
        account_model.objects.filter(pk=account.pk).update(listed_website_ids=ids)


class Migration(migrations.Migration):
    dependencies = [("integrations_app", "0017_ov_site_unlisted_idx")]

    operations = [
        migrations.AddField(
            model_name="datafastaccount",
            name="listed_website_ids",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
        migrations.RunPython(copy_ids, migrations.RunPython.noop),
    ]
