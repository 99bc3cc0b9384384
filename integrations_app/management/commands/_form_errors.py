"""Commands validate with the same forms as the credentials pages, and name options, not fields."""

from __future__ import annotations

from django import forms
from django.core.management.base import CommandError


def raise_for_errors(form: forms.BaseForm, option_names: dict[str, str]) -> None:
    """`CommandError("website-id: …; interval: …")` when the form is invalid; nothing otherwise."""
    if form.is_valid():
        return
    errors = [
        f"{option_names.get(field, field.replace('_', '-'))}: {' '.join(str(message) for message in messages)}"
        for field, messages in form.errors.items()
    ]
    raise CommandError("; ".join(errors))
