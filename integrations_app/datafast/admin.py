"""DataFast's admin: accounts (their token write-only) and websites with their providers."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations_app.admin import SecretAdmin, StatusColumn
from integrations_app.datafast.forms import DataFastAccountForm, DataFastSiteForm
from integrations_app.datafast.models import DataFastAccount, DataFastSite, ProviderState
from integrations_app.forms import NamedForm, name_messages
from integrations_app.problems import disconnected_providers


class DataFastSiteAdminForm(forms.ModelForm[DataFastSite]):
    """The pages' name rules, without the pages' widget styling (the admin's date widgets need theirs)."""

    noun = DataFastSiteForm.noun
    clean_name = NamedForm.clean_name

    class Meta:
        model = DataFastSite
        exclude: list[str] = []
        error_messages = {"name": name_messages(DataFastSiteForm.noun)}


@admin.register(DataFastAccount)
class DataFastAccountAdmin(SecretAdmin[DataFastAccount]):
    form = DataFastAccountForm
    list_display = ["name", "secret_state", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["secret_state"]


class ProviderStateInline(admin.TabularInline[ProviderState, DataFastSite]):
    model = ProviderState
    extra = 0
    readonly_fields = ["provider", "connected", "since", "alert_open", "flapping_since"]
    can_delete = False


@admin.register(DataFastSite)
class DataFastSiteAdmin(StatusColumn[DataFastSite]):
    form = DataFastSiteAdminForm
    list_display = ["name", "website_id", "account", "enabled", "status", "health", "currency", "last_success_at"]
    list_filter = ["enabled", "health", "account", "currency"]
    search_fields = ["name", "website_id"]
    list_select_related = ["account"]
    # What an operator sets first; what the scheduler and the poller write, read-only, at the bottom.
    polled_fields = (
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
    )
    fieldsets = [
        (None, {"fields": ["account", "name", "website_id", "enabled", "poll_interval_seconds"]}),
        ("Set by polling (read-only)", {"fields": polled_fields}),
    ]
    readonly_fields = polled_fields
    inlines = [ProviderStateInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DataFastSite]:
        return super().get_queryset(request).prefetch_related("providers")

    def disconnected(self, obj: DataFastSite) -> list[str]:
        return disconnected_providers(obj.providers)
