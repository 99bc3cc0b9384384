"""DataFast's credential forms: an account (its token) and a website."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError

from integrations_app.datafast import discovery
from integrations_app.datafast.client import OBJECT_ID
from integrations_app.datafast.models import DataFastAccount, DataFastSite, dft_token_validator
from integrations_app.forms import (
    BootstrapForm,
    NamedForm,
    SecretForm,
    header_safe,
    interval_field,
    name_messages,
)


class DataFastAccountForm(NamedForm[DataFastAccount], SecretForm[DataFastAccount]):
    """An account and, once its token has listed its websites (discovery), which of them to watch:
    the listed websites nobody watches yet are checkboxes, ticked unless the operator set them aside."""

    noun = "DataFast account"
    credential_label = "Token"
    credential_help = (
        "A DataFast API token (dft_…) with settings:read, and websites:read to list its websites by name. "
        "Stored encrypted; never shown again."
    )
    credential_validators = [dft_token_validator, header_safe]

    website_ids = forms.MultipleChoiceField(
        label="Websites to watch",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "The website %(value)s is no longer offered; discover again."},
    )

    class Meta:
        model = DataFastAccount
        fields = ["name", "alert_on_discovery"]
        error_messages = {"name": name_messages("DataFast account")}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = discovery.rows(self.instance) if self.instance.pk else []
        offered = [row for row in self.rows if row.offered]
        field = cast(forms.MultipleChoiceField, self.fields["website_ids"])
        field.choices = [(row.website.id, row.website.display_name) for row in offered]
        self.initial.setdefault("website_ids", [row.website.id for row in offered if not row.set_aside])
        self.watched: list[DataFastSite] = []

    @property
    def chosen(self) -> set[str]:
        """The ticked websites, as submitted or by default (the template ticks these)."""
        value = self["website_ids"].value() or []
        return set(value)

    def save(self, commit: bool = True) -> DataFastAccount:
        account = super().save(commit)
        if commit and any(row.offered for row in self.rows):
            self.watched = discovery.watch(account, self.cleaned_data.get("website_ids") or [])
        return account

    @staticmethod
    def audit_values(account: DataFastAccount) -> dict[str, Any]:
        return {"name": account.name, "secret": account.secret_hint, "alert_on_discovery": account.alert_on_discovery}


class DataFastSiteForm(NamedForm[DataFastSite]):
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
        # The model's foreign key makes this field a ModelChoiceField.
        account = cast("forms.ModelChoiceField[DataFastAccount]", self.fields["account"])
        account.queryset = DataFastAccount.objects.order_by("name")
        account.empty_label = "Choose an account"

    def clean_website_id(self) -> str:
        # ObjectIds are hexadecimal; one spelling keeps the uniqueness check honest.
        website_id: str = self.cleaned_data["website_id"].strip().lower()
        if not OBJECT_ID.fullmatch(website_id):
            raise ValidationError(
                "A website ID is 24 hexadecimal characters (0–9, a–f), as DataFast shows it; check for a missing "
                "or extra character."
            )
        other = DataFastSite.objects.filter(website_id=website_id).exclude(pk=self.instance.pk).first()
        if other:
            raise ValidationError(f"The website “{other.name}” already uses this website ID.")
        return website_id

    def save(self, commit: bool = True) -> DataFastSite:
        # A rename here is the operator's: discovery no longer overwrites it; renamed back to the name
        # DataFast lists, it follows DataFast again. The name typed when adding a website by its ID
        # stands in until a discovery lists it.
        if self.instance.pk and "name" in self.changed_data:
            listed = {w.id: w.display_name for w in discovery.listed(self.instance.account)}
            self.instance.name_is_custom = self.instance.name != listed.get(self.instance.website_id, "")
        return super().save(commit)

    @staticmethod
    def audit_values(site: DataFastSite) -> dict[str, Any]:
        return {
            "account": site.account.name,
            "name": site.name,
            "website_id": site.website_id,
            "enabled": site.enabled,
            "poll_interval_seconds": site.poll_interval_seconds,
        }


class NoticeForm(BootstrapForm):
    """A button of a discovery notice (datafast/discovery.py: watch_new, set_aside_new, keep_unlisted)."""

    WATCH, SET_ASIDE, KEEP = "watch", "set_aside", "keep"
    do = forms.ChoiceField(
        choices=[(WATCH, "Watch them"), (SET_ASIDE, "Not these"), (KEEP, "Keep them")],
        error_messages={
            "required": "Choose what to do with the notice: watch, set aside or keep.",
            "invalid_choice": "“%(value)s” is not something a notice does: watch, set aside or keep.",
        },
    )
