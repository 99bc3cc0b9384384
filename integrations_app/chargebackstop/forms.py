"""ChargebackStop's forms: its keys (a credential), and creating and renaming CUSTOM_ORDERS
integrations. Everything the API would refuse for its shape is refused here first, so a bad form
never costs an upstream request."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from integrations_app.chargebackstop.client import DISABLED, ENABLED, NAME_MAX_LENGTH
from integrations_app.chargebackstop.models import (
    ChargebackStopKey,
    KeyLevel,
    KeyOrganisation,
    Merchant,
    Organisation,
)
from integrations_app.forms import (
    BootstrapForm,
    IdListField,
    NamedForm,
    SecretForm,
    header_safe,
    interval_field,
    name_messages,
)
from integrations_app.text import refuse_invisible

MAX_MERCHANT_IDS = 1000
MAX_ORGANISATION_IDS = 200
PICKER_SIZE = 50


def name_field(**kwargs: Any) -> forms.CharField:
    return forms.CharField(
        max_length=NAME_MAX_LENGTH,
        strip=True,
        validators=[refuse_invisible],  # the one rule for typed names
        error_messages={
            "required": "Enter a name.",
            "max_length": "A name is at most %(limit_value)d characters; this one has %(show_value)d.",
        },
        **kwargs,
    )


class OrganisationSelect(forms.Select):
    """A select whose options carry `data-keys`: the keys that reach each organisation, so the
    page can offer only the organisations of the chosen key (static/paystatus.js)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys_by_organisation: dict[str, list[int]] = {}

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        if value in self.keys_by_organisation:
            option["attrs"]["data-keys"] = " ".join(str(pk) for pk in self.keys_by_organisation[value])
        return option


class CreateIntegrationForm(BootstrapForm):
    key = forms.ModelChoiceField(
        # The secret is not decrypted just to list the keys (a key with an unreadable secret
        # must not break the page); the action decrypts the one it uses.
        queryset=ChargebackStopKey.objects.filter(enabled=True),
        label="API key",
        empty_label="Choose a key",
        help_text="The integration is created with this key; only organisations it reaches are offered.",
        error_messages={
            "required": "Choose the API key to create the integration with.",
            "invalid_choice": "That key does not exist or is disabled; choose another.",
        },
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    organisation_id = forms.ChoiceField(
        label="Organisation",
        widget=OrganisationSelect(attrs={"class": "form-select"}),
        error_messages={
            "required": "Choose the organisation that will own the integration.",
            "invalid_choice": "No enabled key reaches that organisation; choose one from the list.",
        },
    )
    name = name_field(
        label="Name",
        help_text="1 to 255 characters, as it will appear in ChargebackStop.",
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        label="Initial status",
        choices=[(ENABLED, "Enabled"), (DISABLED, "Disabled")],
        initial=ENABLED,
        help_text="A disabled integration cannot be enabled through the API later; only in ChargebackStop itself.",
        widget=forms.Select(attrs={"class": "form-select"}),
        error_messages={"invalid_choice": "Choose Enabled or Disabled."},
    )
    merchant_ids = IdListField(
        noun="merchant ID",
        max_items=MAX_MERCHANT_IDS,
        unique=True,  # ChargebackStop refuses DUPLICATE_MERCHANT_IDS
        label="Merchant IDs",
        help_text="Separate IDs with commas, spaces or new lines. Each must belong to the organisation.",
        widget=forms.Textarea(
            attrs={"rows": 4, "class": "form-control font-monospace", "spellcheck": "false", "autocapitalize": "off"}
        ),
    )
    # A one-time token per rendered form: the view acts on the first POST carrying it only.
    submission = forms.UUIDField(
        widget=forms.HiddenInput,
        initial=uuid.uuid4,
        error_messages={
            "required": "This form has lost its one-time token; reload the page and submit again.",
            "invalid": "This form has lost its one-time token; reload the page and submit again.",
        },
    )

    def __init__(self, *args: Any, organisations: QuerySet[Organisation] | None = None, **kwargs: Any) -> None:
        """`organisations`: the ones the user may create in (a project manager's); None for all."""
        super().__init__(*args, **kwargs)
        links = (
            KeyOrganisation.objects.filter(key__enabled=True)
            .select_related("organisation")
            .order_by("organisation__label", "organisation__organisation_id", "key_id")
        )
        if organisations is not None:
            links = links.filter(organisation__in=organisations)
            key_field = cast(forms.ModelChoiceField, self.fields["key"])  # type: ignore[type-arg]
            key_field.queryset = ChargebackStopKey.objects.filter(enabled=True, pk__in=links.values("key_id"))
        self.organisations: list[Organisation] = []
        keys_by_organisation: dict[str, list[int]] = {}
        for link in links:
            organisation_id = link.organisation.organisation_id
            if organisation_id not in keys_by_organisation:
                self.organisations.append(link.organisation)
                keys_by_organisation[organisation_id] = []
            keys_by_organisation[organisation_id].append(link.key_id)
        field = cast(forms.ChoiceField, self.fields["organisation_id"])
        field.choices = [("", "Choose an organisation")] + [
            (org.organisation_id, option(org)) for org in self.organisations
        ]
        picks = merchant_picker(self.organisations)
        # The first PICKER_SIZE of each as buttons, and how many more ("4,950": typed in the list).
        self.merchant_groups = [
            (org, found[:PICKER_SIZE], f"{len(found) - PICKER_SIZE:,}" if len(found) > PICKER_SIZE else "")
            for org, found in ((org, picks[org.organisation_id]) for org in self.organisations)
        ]
        field.widget.keys_by_organisation = keys_by_organisation
        self.keys_by_organisation = keys_by_organisation

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        key, organisation_id = cleaned.get("key"), cleaned.get("organisation_id")
        if key is not None and organisation_id and key.pk not in self.keys_by_organisation.get(organisation_id, ()):
            self.add_error("organisation_id", "This key cannot reach that organisation.")
        return cleaned


def option(organisation: Organisation) -> str:
    """An organisation in a select: its name and ID, TEST ones saying so (an option holds no badge)."""
    name = organisation.label or organisation.name
    words = f"{name} ({organisation.organisation_id})" if name else organisation.organisation_id
    return words + (" — TEST" if organisation.is_test else "")


@dataclass(frozen=True)
class Pick:
    """A merchant of the create form's picker: its ID, and its name and type when listed."""

    merchant_id: str
    name: str = ""
    type: str = ""


def merchant_picker(organisations: list[Organisation]) -> dict[str, list[Pick]]:
    """Each organisation's merchants for the picker, in one query: those GET /v1/merchants lists (by
    name, with their type), then IDs learnt from integrations that it does not list."""
    picks: dict[str, list[Pick]] = {org.organisation_id: [] for org in organisations}
    by_pk = {org.pk: org.organisation_id for org in organisations}
    rows = Merchant.objects.filter(organisation__in=by_pk).order_by("name", "merchant_id")
    for organisation_pk, merchant_id, name, kind in rows.values_list("organisation_id", "merchant_id", "name", "type"):
        picks[by_pk[organisation_pk]].append(Pick(merchant_id, name, kind))
    for org in organisations:
        listed = {pick.merchant_id for pick in picks[org.organisation_id]}
        picks[org.organisation_id] += [Pick(m) for m in org.merchant_ids if m not in listed]
    return picks


class RenameIntegrationForm(BootstrapForm):
    name = name_field(
        label="New name",
        help_text="1 to 255 characters.",
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, current_name: str, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"name": current_name})
        super().__init__(*args, **kwargs)
        self.current_name = current_name

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if name == self.current_name:
            raise ValidationError("That is already its name; enter a different one.")
        return name


def no_whitespace(value: str) -> None:
    if re.search(r"\s", value):
        raise ValidationError("An API key has no spaces or line breaks.")


class ChargebackStopKeyForm(NamedForm[ChargebackStopKey], SecretForm[ChargebackStopKey]):
    noun = "ChargebackStop key"
    credential_label = "API key"
    credential_help = "The ChargebackStop API key. Stored encrypted; never shown again."
    credential_validators = [no_whitespace, header_safe]

    poll_interval_seconds = interval_field()
    manual_organisation_ids = IdListField(
        noun="organisation ID",
        max_items=MAX_ORGANISATION_IDS,
        unique=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        label="Organisation IDs entered by hand",
        required=False,
        help_text=(
            "Rarely needed: a partner key lists its organisations by name, those without integrations too, and "
            "others are learnt by polling. For an organisation key whose organisation has no integration yet, "
            "enter its ID. Separate IDs with commas, spaces or new lines; an organisation-level key takes at most one."
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
        cast(forms.ChoiceField, self.fields["level"]).choices = [("", "Choose a level"), *KeyLevel.choices]
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
        if self.secret_changed or "level" in self.changed_data:
            self.instance.forget_partner_access()  # the partner endpoints may answer it otherwise now
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
