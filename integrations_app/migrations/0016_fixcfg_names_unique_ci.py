"""DataFast account and ChargebackStop key names unique ignoring case, as the forms and a
configuration file compare them (docs/decisions.md, "Names unique ignoring case"). Rows a command
or the admin made differing only in case are renamed first: the later ones get " (2)", " (3)"…"""

from __future__ import annotations

from typing import Any

import django.db.models.functions.text
from django.db import migrations, models

MAX_NAME = 100


def free_name(name: str, taken: set[str]) -> str:
    """`name` with the first " (n)" that no other row's name has, ignoring case; cut to fit."""
    number = 2
    while True:
        suffix = f" ({number})"
        candidate = name[: MAX_NAME - len(suffix)] + suffix
        if candidate.lower() not in taken:
            return candidate
        number += 1


def rename_clashes(apps: Any, schema_editor: Any) -> None:
    for model_name in ("DataFastAccount", "ChargebackStopKey"):
        model = apps.get_model("integrations_app", model_name)
        rows = list(model.objects.order_by("pk").only("pk", "name"))
        taken = {row.name.lower() for row in rows}
        seen: set[str] = set()
        for row in rows:
            if row.name.lower() in seen:
                row.name = free_name(row.name, taken)
                taken.add(row.name.lower())
                model.objects.filter(pk=row.pk).update(name=row.name)
            seen.add(row.name.lower())


class Migration(migrations.Migration):
    dependencies = [
        ("integrations_app", "0015_merge_acks_discovery"),
        ("integrations_app", "0016_discovery_alerts"),  # after it, so the graph has one leaf
    ]

    operations = [
        migrations.RunPython(rename_clashes, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="chargebackstopkey",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="cbs_key_name_unique_ci"
            ),
        ),
        migrations.AddConstraint(
            model_name="datafastaccount",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="dfa_name_unique_ci"
            ),
        ),
    ]
