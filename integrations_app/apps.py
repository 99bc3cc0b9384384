from __future__ import annotations

from django.apps import AppConfig


class IntegrationsAppConfig(AppConfig):
    name = "integrations_app"
    verbose_name = "Payment integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from integrations_app import (
            checks,  # noqa: F401  (registers system checks)
            timezones,  # noqa: F401  (remembers a person's zone at login)
        )
