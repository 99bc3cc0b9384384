"""What every form shares: Bootstrap styling, names, poll intervals and write-only secrets, with
every error on the field it concerns. The forms themselves are each upstream's (`<package>/forms.py`).

Each credential form also says what it changed, for the audit log (`audit_values`): field values, with a
secret only ever as its masked hint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from integrations_app.text import refuse_invisible
from integrations_app.upstream.http import HEADER_SAFE

MIN_INTERVAL = 30
MAX_INTERVAL = 86_400  # a day: longer would leave a source unwatched for too long
MAX_SECRET_LENGTH = 500


class StyledModelForm(forms.ModelForm):
    """Bootstrap classes on every widget, and `is-invalid` on fields with errors. Django itself adds
    `aria-invalid` and `aria-describedby` (`<id>_helptext`, `<id>_error`), which the template matches."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs["class"] = "form-check-input"
            elif isinstance(widget, forms.Select):
                widget.attrs["class"] = "form-select"
            else:
                widget.attrs["class"] = "form-control"

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["class"] += " is-invalid"


class NamedForm(StyledModelForm):
    """A `name` of 1 to 100 printable characters, unique (ignoring case) among its kind."""

    noun: ClassVar[str] = "item"

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        # Control and invisible formatting characters (tabs, bidi overrides) make look-alike names.
        refuse_invisible(name)
        others = type(self.instance).objects.filter(name__iexact=name).exclude(pk=self.instance.pk)
        if others.exists():
            raise ValidationError(f"Another {self.noun} is already called “{name}”. Choose a different name.")
        return name


def name_messages(noun: str) -> dict[str, str]:
    return {
        "required": f"Enter a name for the {noun}.",
        "max_length": "A name is at most 100 characters.",
    }


def interval_field() -> forms.IntegerField:
    return forms.IntegerField(
        label="Poll interval (seconds)",
        required=False,
        min_value=MIN_INTERVAL,
        max_value=MAX_INTERVAL,
        help_text=f"At least {MIN_INTERVAL}. Leave blank for the default ({settings.POLL_INTERVAL_SECONDS} s).",
        error_messages={
            "invalid": "Enter the poll interval as a whole number of seconds.",
            "min_value": f"The poll interval is at least {MIN_INTERVAL} seconds; leave it blank for the default.",
            "max_value": f"The poll interval is at most {MAX_INTERVAL} seconds (a day).",
        },
    )


class SecretForm(StyledModelForm):
    """A write-only secret: the input never renders a value, blank on edit keeps the stored one,
    and the help text shows only the masked hint. Mirrors `admin.SecretForm`."""

    credential_label: ClassVar[str] = "Secret"
    credential_help: ClassVar[str] = "Stored encrypted; it is never shown again."
    credential_validators: ClassVar[list[Callable[[str], None]]] = []

    secret = forms.CharField(
        required=False,
        strip=True,
        max_length=MAX_SECRET_LENGTH,
        # new-password: browsers must not offer to fill in the user's own login password here.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["secret"]
        field.label = self.credential_label
        field.error_messages["required"] = f"Enter the {self.credential_label.lower()}."
        field.error_messages["max_length"] = f"That is too long for a {self.credential_label.lower()}."
        if self.instance.pk:
            field.help_text = f"Stored: {self.instance.secret_display}. Leave blank to keep it."
        else:
            field.required = True
            field.help_text = self.credential_help

    def clean_secret(self) -> str:
        value = self.cleaned_data["secret"]
        if value:
            for validator in self.credential_validators:
                validator(value)
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # Set before the model validation that follows, so a new row is validated with its secret.
        if cleaned.get("secret"):
            self.instance.set_secret(cleaned["secret"])
        return cleaned

    @property
    def secret_changed(self) -> bool:
        return bool(getattr(self, "cleaned_data", {}).get("secret"))


def header_safe(value: str) -> None:
    """The secret travels in an HTTP header, which carries printable ASCII only."""
    if not HEADER_SAFE.fullmatch(value):
        raise ValidationError(
            "Only ASCII letters, digits and punctuation can be sent to the API: remove accents, invisible "
            "characters and anything else pasted with it."
        )
