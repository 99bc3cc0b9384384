"""What every form shares: Bootstrap styling, names, poll intervals and write-only secrets, with
every error on the field it concerns. The forms themselves are each upstream's (`<package>/forms.py`).

Each credential form also says what it changed, for the audit log (`audit_values`): field values, with a
secret only ever as its masked hint.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from integrations_app.models.sources import HasSecret
from integrations_app.text import refuse_invisible
from integrations_app.upstream.http import HEADER_SAFE

MIN_INTERVAL = 30
MAX_INTERVAL = 86_400  # a day: longer would leave a source unwatched for too long
MAX_SECRET_LENGTH = 500


# Upstream IDs (merchants, organisations, integrations): letters, digits, `_` and `-`.
ID_CHARACTERS = re.compile(r"[A-Za-z0-9_\-]+")
SEPARATORS = re.compile(r"[\s,]+")
NAMED_IN_ERRORS = 5  # bad IDs named in one message; the rest are counted

M = TypeVar("M", bound=models.Model)
S = TypeVar("S", bound=HasSecret)


def _widget_class(widget: forms.Widget) -> str:
    if isinstance(widget, forms.CheckboxInput):
        return "form-check-input"
    if isinstance(widget, forms.Select):
        return "form-select"
    return "form-control"


class Bootstrap:
    """Bootstrap's class on every visible widget (kept beside a field's own classes), and
    `is-invalid` on each field with an error, however it came: field cleaning, `clean()`, the
    model's validation, or a view's `add_error` for an upstream refusal (all go through
    `add_error`). Templates render a field with `{{ field.as_field_group }}`: label, widget, help
    and errors from one template (`integrations_app/forms/bootstrap_field.html`), whose ids match the
    `aria-describedby` Django itself adds (`<id>_helptext`, `<id>_error`)."""

    # In the app, where the form renderer looks (it does not read the project-wide templates/).
    FIELD_TEMPLATE = "integrations_app/forms/bootstrap_field.html"
    mark_required: ClassVar[bool] = False  # "(required)" after the labels of required fields

    fields: dict[str, forms.Field]
    errors: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # django-stubs 6.1 does not declare Field.template_name (new in Django 5.0).
            field.template_name = field.template_name or self.FIELD_TEMPLATE  # type: ignore[attr-defined]
            if not field.widget.is_hidden:
                _add_class(field.widget, _widget_class(field.widget))

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)  # type: ignore[misc]
        for name in self.errors:
            if name in self.fields:
                _add_class(self.fields[name].widget, "is-invalid")


def _add_class(widget: forms.Widget, css: str) -> None:
    classes = widget.attrs.get("class", "").split()
    if css not in classes:
        widget.attrs["class"] = " ".join([css, *classes] if css != "is-invalid" else [*classes, css])


class BootstrapForm(Bootstrap, forms.Form):
    pass


class StyledModelForm(Bootstrap, forms.ModelForm[M]):
    mark_required = True


def name_some(values: Iterable[str]) -> str:
    """`a, b, c and 4 more`: name the culprits without pasting a thousand of them back."""
    values = list(values)
    shown = ", ".join(value if len(value) <= 40 else value[:40] + "…" for value in values[:NAMED_IN_ERRORS])
    rest = len(values) - NAMED_IN_ERRORS
    return f"{shown} and {rest} more" if rest > 0 else shown


class IdListField(forms.Field):
    """Upstream IDs separated by commas, spaces or new lines, cleaned to a list in the order typed:
    at most `max_items`, each of ID_CHARACTERS and at most `max_length` long. A repeated ID is
    refused when the upstream would refuse it (`unique`), else dropped."""

    widget = forms.Textarea

    def __init__(self, *, noun: str, max_items: int, unique: bool, max_length: int = 100, **kwargs: Any) -> None:
        self.noun, self.max_items, self.unique, self.max_length = noun, max_items, unique, max_length
        kwargs["error_messages"] = {"required": f"Enter at least one {noun}.", **kwargs.get("error_messages", {})}
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(item) for item in value]
        items = [part for part in SEPARATORS.split(str(value or "")) if part]
        return items if self.unique else list(dict.fromkeys(items))

    def prepare_value(self, value: Any) -> Any:
        # Initial values come as lists; what the user typed comes back as the string they typed.
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def validate(self, value: list[str]) -> None:
        super().validate(value)  # the empty list is the "required" error
        plural = f"{self.noun}s"
        if len(value) > self.max_items:
            raise ValidationError(f"Enter at most {self.max_items:,} {plural}; this list has {len(value):,}.")
        if bad := [item for item in value if not ID_CHARACTERS.fullmatch(item)]:
            raise ValidationError(
                f"{plural.capitalize()} may contain only letters, digits, “_” and “-”; these do not: {name_some(bad)}."
            )
        if long := [item for item in value if len(item) > self.max_length]:
            raise ValidationError(
                f"{plural.capitalize()} are at most {self.max_length} characters; these are longer: {name_some(long)}."
            )
        if self.unique and (repeated := [item for item, count in Counter(value).items() if count > 1]):
            raise ValidationError(f"Each {self.noun} may appear once; listed more than once: {name_some(repeated)}.")


class NamedForm(StyledModelForm[M]):
    """A `name` of 1 to 100 printable characters, unique (ignoring case) among its kind."""

    noun: ClassVar[str] = "item"

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        # Control and invisible formatting characters (tabs, bidi overrides) make look-alike names.
        refuse_invisible(name)
        others = type(self.instance)._default_manager.filter(name__iexact=name).exclude(pk=self.instance.pk)
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


def _in_a_sentence(label: str) -> str:
    """A label inside a sentence: "Token" → "token", but "API key" keeps its acronym."""
    return " ".join(word if word.isupper() else word.lower() for word in label.split())


class SecretForm(StyledModelForm[S]):
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
        noun = _in_a_sentence(self.credential_label)
        field.error_messages["required"] = f"Enter the {noun}."
        field.error_messages["max_length"] = f"That is too long for a {noun}."
        if self.instance.pk:
            field.help_text = f"Stored: {self.instance.secret_display}. Leave blank to keep it."
        else:
            field.required = True
            field.help_text = self.credential_help

    def clean_secret(self) -> str:
        value: str = self.cleaned_data["secret"]
        if value:
            for validator in self.credential_validators:
                validator(value)
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
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
