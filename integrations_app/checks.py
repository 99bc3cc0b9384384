"""System checks that warn about missing production settings (`manage.py check [--deploy]`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register


@register()
def operator_settings(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        messages.append(
            Error(
                "FIELD_ENCRYPTION_KEYS is empty, so credentials cannot be stored or read.",
                hint="Set a comma list of Fernet keys; `make run` generates one into .env.",
                id="paystatus.E001",
            )
        )
    if not settings.ALERT_RECIPIENTS:
        messages.append(
            Warning(
                "ADMINS is empty: nobody will receive disconnect alerts.",
                hint="Set ADMINS to a comma list of email addresses.",
                id="paystatus.W001",
            )
        )
    return messages
