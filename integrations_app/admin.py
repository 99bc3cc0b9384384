"""The operators' admin: list filters, search, and secrets that are write-only (masked, never shown)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from integrations_app import problems
from integrations_app.credentials.forms import (
    ChargebackStopKeyForm,
    DataFastAccountForm,
    DataFastSiteForm,
    NamedForm,
    SecretForm,
    name_messages,
)
from integrations_app.models import (
    Alert,
    AuditEntry,
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Integration,
    KeyOrganisation,
    Organisation,
    PollAttempt,
    ProviderState,
    StatusChange,
)
from integrations_app.problems import disconnected_providers, problem_of, with_problem
from integrations_app.text import refuse_invisible


@admin.display(description="secret")
def secret_state(obj: DataFastAccount | ChargebackStopKey) -> str:
    """The masked hint, or "secret unreadable: encryption key missing"; never decrypts."""
    return obj.secret_display


class SecretAdmin(admin.ModelAdmin):
    """An admin whose add and change pages take a secret: it never reaches an error report."""

    exclude = ["secret"]  # the form's write-only field sets it; the admin must not copy it raw

    @method_decorator(sensitive_post_parameters("secret"))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)


class StatusColumn(admin.ModelAdmin):
    """The status column of a list: the one status function, in the pages' words, sortable."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = with_problem(super().get_queryset(request))
        return queryset.prefetch_related("providers") if queryset.model is DataFastSite else queryset

    @admin.display(description="status", ordering="problem_rank")
    def status(self, obj: Any) -> str:
        disconnected = disconnected_providers(obj.providers) if isinstance(obj, DataFastSite) else []
        return problems.words(problem_of(obj), obj, disconnected=disconnected)


class ChargebackStopKeyAdminForm(NamedForm, SecretForm):
    """The pages' name rules, write-only secret and its checks; hand-entered organisations are the
    inline's job."""

    noun = ChargebackStopKeyForm.noun
    credential_label = ChargebackStopKeyForm.credential_label
    credential_validators = ChargebackStopKeyForm.credential_validators

    class Meta:
        model = ChargebackStopKey
        fields = ["name", "level", "enabled", "poll_interval_seconds"]
        error_messages = {"name": name_messages(ChargebackStopKeyForm.noun)}


class DataFastSiteAdminForm(forms.ModelForm):
    """The pages' name rules, without the pages' widget styling (the admin's date widgets need theirs)."""

    noun = DataFastSiteForm.noun
    clean_name = NamedForm.clean_name

    class Meta:
        model = DataFastSite
        exclude: list[str] = []
        error_messages = {"name": name_messages(DataFastSiteForm.noun)}


class TypedTextAdminForm(forms.ModelForm):
    """For rows whose text mostly comes from upstream: what an operator types here follows the
    pages' character rule (an upstream value left as it is stays as it came)."""

    typed_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name in self.typed_fields:
            if name in self.changed_data and cleaned.get(name):
                try:
                    refuse_invisible(cleaned[name])
                except forms.ValidationError as error:
                    self.add_error(name, error)
        return cleaned


class IntegrationAdminForm(TypedTextAdminForm):
    typed_fields = ("name",)


class OrganisationAdminForm(TypedTextAdminForm):
    typed_fields = ("label",)


@admin.register(DataFastAccount)
class DataFastAccountAdmin(SecretAdmin):
    form = DataFastAccountForm
    list_display = ["name", secret_state, "created_at"]
    search_fields = ["name"]
    readonly_fields = [secret_state]


class ProviderStateInline(admin.TabularInline):
    model = ProviderState
    extra = 0
    readonly_fields = ["provider", "connected", "since", "alert_open", "flapping_since"]
    can_delete = False


@admin.register(DataFastSite)
class DataFastSiteAdmin(StatusColumn):
    form = DataFastSiteAdminForm
    list_display = ["name", "website_id", "account", "enabled", "status", "health", "currency", "last_success_at"]
    list_filter = ["enabled", "health", "account", "currency"]
    search_fields = ["name", "website_id"]
    list_select_related = ["account"]
    # What an operator sets first; what the scheduler and the poller write, read-only, at the bottom.
    fieldsets = [
        (None, {"fields": ["account", "name", "website_id", "enabled", "poll_interval_seconds"]}),
        (
            "Set by polling (read-only)",
            {
                "fields": [
                    "next_poll_at",
                    "last_polled_at",
                    "last_success_at",
                    "failing_since",
                    "health",
                    "health_since",
                    "last_error_kind",
                    "last_error_status",
                    "last_error_message",
                    "currency",
                    "paddle_key_expires_at",
                ]
            },
        ),
    ]
    readonly_fields = fieldsets[1][1]["fields"]
    inlines = [ProviderStateInline]


class KeyOrganisationInline(admin.TabularInline):
    model = KeyOrganisation
    extra = 1


@admin.register(ChargebackStopKey)
class ChargebackStopKeyAdmin(SecretAdmin, StatusColumn):
    form = ChargebackStopKeyAdminForm
    list_display = ["name", "level", secret_state, "enabled", "status", "health", "last_success_at"]
    list_filter = ["level", "enabled", "health"]
    search_fields = ["name"]
    readonly_fields = [secret_state, "health", "health_since", "last_success_at", "last_error_message"]
    inlines = [KeyOrganisationInline]


@admin.register(Organisation)
class OrganisationAdmin(StatusColumn):
    form = OrganisationAdminForm
    list_display = ["__str__", "organisation_id", "status", "created_at"]
    search_fields = ["organisation_id", "label"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    form = IntegrationAdminForm
    list_display = ["name", "integration_id", "organisation", "type", "status", "since"]
    list_filter = ["status", "type", "organisation"]
    search_fields = ["name", "integration_id"]
    list_select_related = ["organisation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # integrations are created upstream (the dashboard's form does that)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "severity", "old", "new", "site", "integration", "notify", "alert"]
    list_filter = ["kind", "severity", "notify", "outside_dashboard"]
    search_fields = ["reason", "site__name", "integration__name"]
    list_select_related = ["site", "integration", "alert"]


@admin.register(PollAttempt)
class PollAttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "site", "key", "ok", "error_kind", "http_status", "duration_ms"]
    list_filter = ["ok", "error_kind"]
    list_select_related = ["site", "key"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "subject", "status", "attempts", "sent_at", "error"]
    list_filter = ["status"]
    search_fields = ["subject"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "action", "target", "ok", "upstream_status"]
    list_filter = ["action", "ok"]
    search_fields = ["username", "target"]
