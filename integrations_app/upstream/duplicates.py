"""The same secret saved under two names means everything it reaches is polled twice."""

from __future__ import annotations

import hmac

from django.db import models
from django.views.decorators.debug import sensitive_variables

from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.models.sources import HasSecret
from integrations_app.upstream.secret import Secret


@sensitive_variables("wanted", "theirs", "secret")
def same_secret_elsewhere(saved: HasSecret, secret: Secret) -> list[str]:
    """Names of the other rows of the same kind that hold `secret`. Rows are few (one per token or
    key), so each is decrypted on its own: one unreadable secret does not stop the comparison."""
    # Each credential model declares its own `name` and secret field; HasSecret declares neither.
    model: type[models.Model] = type(saved)
    wanted = secret.reveal().encode()
    found = []
    for pk, name in model._default_manager.exclude(pk=saved.pk).order_by("name").values_list("pk", "name"):
        try:
            row = model._default_manager.only(saved.SECRET_FIELD).get(pk=pk)
            theirs: Secret | None = getattr(row, saved.SECRET_FIELD)
            if theirs is not None and hmac.compare_digest(theirs.reveal().encode(), wanted):
                found.append(name)
        except SecretUnreadable:
            continue
    return found


def duplicate_warning(saved: HasSecret, secret: Secret, noun: str) -> str:
    """A warning to show after saving, or "" when the secret is used nowhere else."""
    others = same_secret_elsewhere(saved, secret)
    if not others:
        return ""
    listed = ", ".join(f"“{name}”" for name in others)
    return (
        f"The same secret is already saved as the {noun} {listed}: everything it reaches is polled twice. "
        f"Delete one of them unless that is what you want."
    )
