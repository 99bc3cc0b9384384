"""The websites no longer listed, indexed by account: the overview's discovery notices count them on
every refresh, and without it that count read every website row."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("integrations_app", "0016_fixcfg_names_unique_ci")]

    operations = [
        migrations.AddIndex(
            model_name="datafastsite",
            index=models.Index(
                condition=models.Q(("unlisted_since__isnull", False)), fields=["account"], name="site_unlisted_idx"
            ),
        ),
    ]
