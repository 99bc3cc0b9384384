"""The operators' admin: list filters, search, and secrets that are write-only (masked, never shown).

What every upstream's admin shares, and the history tables; each upstream registers its own models
in its `admin.py`, imported here from the registry (Django looks for this module only)."""

from __future__ import annotations

from importlib import import_module
from typing import Any, TypeVar

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from integrations_app import problems
from integrations_app.models import Alert, AuditEntry, Membership, PollAttempt, Project, StatusChange
from integrations_app.models.sources import HasSecret
from integrations_app.problems import problem_of
from integrations_app.text import refuse_invisible
from integrations_app.upstreams import UPSTREAMS

M = TypeVar("M", bound=models.Model)
S = TypeVar("S", bound=HasSecret)


class SecretAdmin(admin.ModelAdmin[S]):
    """An admin whose add and change pages take a secret: it never reaches an error report."""

    exclude = ["secret"]  # the form's write-only field sets it; the admin must not copy it raw

    @method_decorator(sensitive_post_parameters("secret"))
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return super().changeform_view(request, *args, **kwargs)

    @admin.display(description="secret")
    def secret_state(self, obj: S) -> str:
        """The masked hint, or "secret unreadable: encryption key missing"; never decrypts."""
        return obj.secret_display


class StatusColumn(admin.ModelAdmin[M]):
    """The status column of a list: the one status function, in the pages' words, sortable."""

    def disconnected(self, obj: M) -> list[str]:
        """What the problem's words name as disconnected (a website's providers)."""
        return []

    @admin.display(description="status", ordering="problem_rank")
    def status(self, obj: M) -> str:
        return problems.words(problem_of(obj), obj, disconnected=self.disconnected(obj))


class TypedTextAdminForm(forms.ModelForm[M]):
    """For rows whose text mostly comes from upstream: what an operator types here follows the
    pages' character rule (an upstream value left as it is stays as it came)."""

    typed_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        for name in self.typed_fields:
            if name in self.changed_data and cleaned.get(name):
                try:
                    refuse_invisible(cleaned[name])
                except forms.ValidationError as error:
                    self.add_error(name, error)
        return cleaned


class ReadOnlyAdmin(admin.ModelAdmin[M]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: M | None = None) -> bool:
        return False


@admin.register(StatusChange)
class StatusChangeAdmin(ReadOnlyAdmin[StatusChange]):
    list_display = ["at", "kind", "severity", "old", "new", "site", "integration", "notify", "alert"]
    list_filter = ["kind", "severity", "notify", "outside_dashboard"]
    search_fields = ["reason", "site__name", "integration__name"]
    list_select_related = ["site", "integration", "alert"]


@admin.register(PollAttempt)
class PollAttemptAdmin(ReadOnlyAdmin[PollAttempt]):
    list_display = ["started_at", "site", "key", "ok", "error_kind", "http_status", "duration_ms"]
    list_filter = ["ok", "error_kind"]
    list_select_related = ["site", "key"]


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin[Alert]):
    list_display = ["created_at", "subject", "status", "attempts", "sent_at", "error"]
    list_filter = ["status"]
    search_fields = ["subject"]


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin[AuditEntry]):
    list_display = ["at", "username", "action", "target", "project", "ok", "upstream_status"]
    list_filter = ["action", "ok", "project"]
    search_fields = ["username", "target"]


class MembershipInline(admin.TabularInline[Membership, Project]):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin[Project]):
    """Projects and their members. Changes made here are not in the dashboard's audit log: the
    dashboard's Projects pages are the audited way; this is the operators' escape hatch."""

    list_display = ["name", "time_zone", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin[Membership]):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]


for upstream in UPSTREAMS:
    import_module(f"integrations_app.{upstream.package}.admin")
