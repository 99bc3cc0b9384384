"""Forms for credentials: strict fields, write-only secrets, and every error on the field it concerns.

Each form also says what it changed, for the audit log (`audit_values`): field values, with a
secret only ever as its masked hint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, ClassVar

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite, KeyOrganisation, Organisation
from integrations_app.models.chargebackstop import KeyLevel
from integrations_app.models.datafast import dft_token_validator
from integrations_app.text import refuse_invisible
from integrations_app.upstream.http import HEADER_SAFE

OBJECT_ID = re.compile(r"[0-9a-f]{24}")
ORGANISATION_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")
SEPARATORS = re.compile(r"[\s,]+")
MIN_INTERVAL = 30
MAX_INTERVAL = 86_400  # a day: longer would leave a source unwatched for too long
MAX_SECRET_LENGTH = 500
MAX_ORGANISATION_IDS = 200


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


def _in_a_sentence(label: str) -> str:
    """A label inside a sentence: "Token" → "token", but "API key" keeps its acronym."""
    return " ".join(word if word.isupper() else word.lower() for word in label.split())


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
        noun = _in_a_sentence(self.credential_label)
        field.error_messages["required"] = f"Enter the {noun}."
        field.error_messages["max_length"] = f"That is too long for a {noun}."
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


def no_whitespace(value: str) -> None:
    if re.search(r"\s", value):
        raise ValidationError("An API key has no spaces or line breaks.")


def header_safe(value: str) -> None:
    """The secret travels in an HTTP header, which carries printable ASCII only."""
    if not HEADER_SAFE.fullmatch(value):
        raise ValidationError(
            "Only ASCII letters, digits and punctuation can be sent to the API: remove accents, invisible "
            "characters and anything else pasted with it."
        )


class DataFastAccountForm(NamedForm, SecretForm):
    noun = "DataFast account"
    credential_label = "Token"
    credential_help = "A DataFast API token (dft_…, scope settings:read). Stored encrypted; never shown again."
    credential_validators = [dft_token_validator, header_safe]

    class Meta:
        model = DataFastAccount
        fields = ["name"]
        error_messages = {"name": name_messages("DataFast account")}

    @staticmethod
    def audit_values(account: DataFastAccount) -> dict[str, Any]:
        return {"name": account.name, "secret": account.secret_hint}


class DataFastSiteForm(NamedForm):
    noun = "website"

    website_id = forms.CharField(
        label="Website ID",
        help_text="The 24-character ObjectId DataFast shows for the website, such as 6650a1f2c4e8b90012ab3401.",
        error_messages={"required": "Enter the website ID."},
    )
    poll_interval_seconds = interval_field()

    class Meta:
        model = DataFastSite
        fields = ["account", "name", "website_id", "enabled", "poll_interval_seconds"]
        labels = {"account": "DataFast account", "enabled": "Enabled (polled)"}
        help_texts = {
            "account": "The account whose token can read this website.",
            "enabled": "Untick to pause polling; the history is kept.",
        }
        error_messages = {
            "name": name_messages("website"),
            "account": {
                "required": "Choose the DataFast account whose token reads this website.",
                "invalid_choice": "That DataFast account no longer exists; choose another.",
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        account = self.fields["account"]
        account.queryset = DataFastAccount.objects.order_by("name")
        account.empty_label = "Choose an account"

    def clean_website_id(self) -> str:
        # ObjectIds are hexadecimal; one spelling keeps the uniqueness check honest.
        website_id = self.cleaned_data["website_id"].strip().lower()
        if not OBJECT_ID.fullmatch(website_id):
            raise ValidationError(
                "A website ID is 24 hexadecimal characters (0–9, a–f), as DataFast shows it; check for a missing "
                "or extra character."
            )
        other = DataFastSite.objects.filter(website_id=website_id).exclude(pk=self.instance.pk).first()
        if other:
            raise ValidationError(f"The website “{other.name}” already uses this website ID.")
        return website_id

    @staticmethod
    def audit_values(site: DataFastSite) -> dict[str, Any]:
        return {
            "account": site.account.name,
            "name": site.name,
            "website_id": site.website_id,
            "enabled": site.enabled,
            "poll_interval_seconds": site.poll_interval_seconds,
        }


class OrganisationIdsField(forms.Field):
    """Organisation IDs separated by commas, spaces or new lines; duplicates are dropped."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return list(dict.fromkeys(part for part in SEPARATORS.split(str(value or "")) if part))

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        bad = [item for item in value if not ORGANISATION_ID.fullmatch(item)]
        if bad:
            shown = ", ".join(item[:40] for item in bad[:5])
            raise ValidationError(
                f"Organisation IDs use only letters, digits, _ and - (up to 100 characters each). Check: {shown}."
            )
        if len(value) > MAX_ORGANISATION_IDS:
            raise ValidationError(f"Enter at most {MAX_ORGANISATION_IDS} organisation IDs.")


class ChargebackStopKeyForm(NamedForm, SecretForm):
    noun = "ChargebackStop key"
    credential_label = "API key"
    credential_help = "The ChargebackStop API key. Stored encrypted; never shown again."
    credential_validators = [no_whitespace, header_safe]

    poll_interval_seconds = interval_field()
    manual_organisation_ids = OrganisationIdsField(
        label="Organisation IDs entered by hand",
        required=False,
        help_text=(
            "For organisations this key reaches that have no integration yet (others are learnt by polling). "
            "Separate them with commas, spaces or new lines. An organisation-level key takes at most one."
        ),
    )
    field_order = ["name", "level", "secret", "enabled", "poll_interval_seconds", "manual_organisation_ids"]

    class Meta:
        model = ChargebackStopKey
        fields = ["name", "level", "enabled", "poll_interval_seconds"]
        labels = {"enabled": "Enabled (polled)"}
        help_texts = {
            "level": "Organisation: the key sees its own organisation. Partner: it sees its partner group's.",
            "enabled": "Untick to pause polling; the history is kept.",
        }
        error_messages = {
            "name": name_messages("ChargebackStop key"),
            "level": {
                "required": "Choose the key's level: organisation or partner.",
                "invalid_choice": "Choose organisation or partner.",
            },
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["level"].choices = [("", "Choose a level"), *KeyLevel.choices]
        if self.instance.pk:
            self.initial.setdefault("manual_organisation_ids", manual_organisation_ids(self.instance))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        ids = cleaned.get("manual_organisation_ids") or []
        if cleaned.get("level") == KeyLevel.ORGANISATION and len(ids) > 1:
            self.add_error(
                "manual_organisation_ids",
                "An organisation-level key reaches one organisation: enter at most one organisation ID "
                "(or choose the partner level).",
            )
        return cleaned

    def save(self, commit: bool = True) -> ChargebackStopKey:
        if not commit:
            raise ValueError("the hand-entered organisations need the key saved first")
        key = super().save()
        self._save_manual_organisations(key, self.cleaned_data["manual_organisation_ids"])
        return key

    @staticmethod
    def _save_manual_organisations(key: ChargebackStopKey, wanted: list[str]) -> None:
        """Make the hand-entered links match `wanted`. Links learnt by polling are never touched:
        they come and go with what the API lists."""
        links = KeyOrganisation.objects.filter(key=key)
        links.filter(source=KeyOrganisation.Source.MANUAL).exclude(organisation__organisation_id__in=wanted).delete()
        linked = set(links.values_list("organisation__organisation_id", flat=True))
        for organisation_id in wanted:
            if organisation_id not in linked:
                organisation, _ = Organisation.objects.get_or_create(organisation_id=organisation_id)
                KeyOrganisation.objects.create(key=key, organisation=organisation, source=KeyOrganisation.Source.MANUAL)

    @staticmethod
    def audit_values(key: ChargebackStopKey) -> dict[str, Any]:
        return {
            "name": key.name,
            "level": key.level,
            "secret": key.secret_hint,
            "enabled": key.enabled,
            "poll_interval_seconds": key.poll_interval_seconds,
            "manual_organisation_ids": manual_organisation_ids(key) if key.pk else [],
        }


def manual_organisation_ids(key: ChargebackStopKey) -> list[str]:
    links = KeyOrganisation.objects.filter(key=key, source=KeyOrganisation.Source.MANUAL)
    return list(links.order_by("organisation__organisation_id").values_list("organisation__organisation_id", flat=True))
