from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from integrations_app import upstreams
from integrations_app.models.secret_field import SecretUnreadable, StoredSecret


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS. Put the new key first, "
        "keep the old ones after it, run this, then remove the old keys."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        with transaction.atomic():
            for model in upstreams.secret_models():
                for pk in model._default_manager.values_list("pk", flat=True):
                    instance = model._default_manager.get(pk=pk)
                    stored: StoredSecret = getattr(instance, instance.SECRET_FIELD)  # as loaded: encrypted
                    try:
                        setattr(instance, instance.SECRET_FIELD, stored.rotated())
                    except SecretUnreadable:
                        raise CommandError(
                            f"{model._meta.verbose_name} #{pk} cannot be decrypted with any key in "
                            "FIELD_ENCRYPTION_KEYS; nothing was changed. Add the key that encrypted it and retry."
                        ) from None
                    instance.save(update_fields=[instance.SECRET_FIELD])
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} secrets with the first key.")
