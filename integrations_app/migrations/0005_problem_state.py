"""`has_disconnect` now means "a provider is disconnected now and people heard of it" only; a
Paddle key's expiry is a problem of its own (integrations_app/problems.py). Recompute it."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import Exists, OuterRef, Q


def recompute_has_disconnect(apps: Any, schema_editor: Any) -> None:
    site_model = apps.get_model("integrations_app", "DataFastSite")
    provider_model = apps.get_model("integrations_app", "ProviderState")
    disconnected = provider_model.objects.filter(site=OuterRef("pk"), connected=False).filter(
        Q(alert_open=True) | Q(flapping_since__isnull=False)
    )
    site_model.objects.update(has_disconnect=Exists(disconnected))


class Migration(migrations.Migration):
    dependencies = [("integrations_app", "0004_integration_action_until")]

    operations = [migrations.RunPython(recompute_has_disconnect, migrations.RunPython.noop)]
