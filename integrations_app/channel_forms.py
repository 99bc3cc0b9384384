"""The channel form: where alerts go (an Apprise URL, write-only, or email addresses), for which
project (staff: any, or global; managers: the projects they manage), and what it takes."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models.functions import Lower
from django.views.decorators.debug import sensitive_variables

from integrations_app.alerts import apprise_send
from integrations_app.forms import StyledModelForm
from integrations_app.models import Channel, ChannelKind, Project, Vendor
from integrations_app.models.history import ChangeKind
from integrations_app.scoping import Scope
from integrations_app.text import refuse_invisible

MAX_URL_LENGTH = 2000
MAX_ADDRESSES = 50
GLOBAL = ""


def shown_url(channel: Channel) -> str:
    """What a page or the audit log shows of a channel's URL: its service, never the rest."""
    if channel.kind == ChannelKind.EMAIL:
        return ""
    return f"{channel.service or 'apprise'}://••••" if channel.url is not None else ""


class ChannelForm(StyledModelForm[Channel]):
    where = forms.TypedChoiceField(
        label="Project",
        coerce=str,
        required=False,
        help_text="A project's channel hears of that project's sources only; a global one hears of every source.",
        error_messages={"invalid_choice": "Choose one of your projects."},
    )
    url = forms.CharField(
        label="Apprise URL",
        required=False,
        strip=True,
        max_length=MAX_URL_LENGTH,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text=(
            "Such as slack://TokenA/TokenB/TokenC or json://hooks.example.com/path. "
            "Stored encrypted, never shown again."
        ),
    )
    vendors = forms.MultipleChoiceField(
        choices=Vendor.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only these vendors",
        help_text="None ticked: every vendor.",
    )
    change_kinds = forms.MultipleChoiceField(
        choices=ChangeKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Only these kinds of change",
        help_text="None ticked: every kind of change.",
    )

    class Meta:
        model = Channel
        fields = [
            "name",
            "kind",
            "addresses",
            "takes_problems",
            "takes_recoveries",
            "takes_notices",
            "takes_digests",
            "vendors",
            "change_kinds",
        ]
        labels = {
            "kind": "Kind",
            "addresses": "Email addresses",
            "takes_problems": "Problems",
            "takes_recoveries": "Recoveries",
            "takes_notices": "Notices",
            "takes_digests": "Weekly digests",
        }
        widgets = {"addresses": forms.Textarea(attrs={"rows": 3})}
        error_messages = {"name": {"required": "Enter a name for the channel."}}

    def __init__(self, *args: Any, scope: Scope, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scope = scope
        projects = Project.objects.order_by(Lower("name"))
        if not scope.staff_wide:
            projects = projects.filter(pk__in=scope.managed)
        choices = [(GLOBAL, "Global (every source)")] if scope.staff_wide else []
        field = self.fields["where"]
        assert isinstance(field, forms.TypedChoiceField)
        field.choices = choices + [(str(pk), name) for pk, name in projects.values_list("pk", "name")]
        self.initial["where"] = str(self.instance.project_id or GLOBAL)
        if self.instance.pk and self.instance.url is not None:
            self.fields[
                "url"
            ].help_text = f"Stored: {shown_url(self.instance)}. Leave blank to keep it; type a new one to replace it."

    def clean_name(self) -> str:
        refuse_invisible(self.cleaned_data["name"])
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise ValidationError("Enter a name for the channel.")
        return name

    def clean_where(self) -> Project | None:
        value = self.cleaned_data.get("where") or GLOBAL
        if value == GLOBAL:
            if not self.scope.staff_wide:
                raise ValidationError("Only staff may make a global channel: choose one of your projects.")
            return None
        project = Project.objects.filter(pk=int(value)).first()
        if project is None or not self.scope.can_change(project.pk):
            raise ValidationError("Choose one of your projects.")
        return project

    @sensitive_variables("url")
    def clean_url(self) -> str:
        url: str = self.cleaned_data.get("url") or ""
        if any(char.isspace() for char in url):
            raise ValidationError("An Apprise URL has no spaces or line breaks.")
        return url

    def clean_addresses(self) -> str:
        lines = [line.strip() for line in self.cleaned_data.get("addresses", "").splitlines() if line.strip()]
        if len(lines) > MAX_ADDRESSES:
            raise ValidationError(f"At most {MAX_ADDRESSES} addresses.")
        for number, line in enumerate(lines, 1):
            try:
                validate_email(line)
            except ValidationError:
                # `number` lets a configuration import say which one without quoting a sealed secret.
                raise ValidationError(
                    "“%(line)s” is not an email address (one address per line).",
                    code="address",
                    params={"line": line[:100], "number": number},
                ) from None
        return "\n".join(lines)

    @sensitive_variables("url")
    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        kind = cleaned.get("kind")
        url = cleaned.get("url", "")
        if kind == ChannelKind.APPRISE:
            if not url and (self.instance.url is None or self.instance.kind != ChannelKind.APPRISE):
                self.add_error("url", "Enter the service's Apprise URL.")
            elif url and not apprise_send.recognised(url):
                service = apprise_send.service_of(url)
                self.add_error(
                    "url",
                    f"Apprise does not recognise this {service + ':// ' if service else ''}URL: check the service's "
                    "form in the README (Channels and routing) or Apprise's documentation.",
                )
        elif kind == ChannelKind.EMAIL and not cleaned.get("addresses") and "addresses" not in self.errors:
            self.add_error("addresses", "Enter at least one email address, one per line.")
        return cleaned

    @sensitive_variables("url")
    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        channel.project = self.cleaned_data["where"]
        url = self.cleaned_data.get("url", "")
        if channel.kind == ChannelKind.EMAIL:
            channel.url, channel.service = None, ""
        else:
            channel.addresses = ""
            if url:
                channel.url, channel.service = url, apprise_send.service_of(url)
        if commit:
            channel.save()
        return channel

    @staticmethod
    def audit_values(channel: Channel) -> dict[str, Any]:
        return {
            "name": channel.name,
            "project": channel.project.name if channel.project else None,
            "kind": channel.kind,
            "url": shown_url(channel),
            "addresses": channel.address_list,
            "takes": [
                kind for kind in ("problems", "recoveries", "notices", "digests") if getattr(channel, f"takes_{kind}")
            ],
            "vendors": list(channel.vendors),
            "change_kinds": list(channel.change_kinds),
        }
