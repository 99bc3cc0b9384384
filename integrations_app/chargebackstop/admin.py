"""ChargebackStop's admin: keys (write-only), their organisations, and integrations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from integrations_app.admin import SecretAdmin, StatusColumn, TypedTextAdminForm
from integrations_app.chargebackstop.forms import ChargebackStopKeyForm
from integrations_app.chargebackstop.models import (
    ChargebackStopKey,
    Integration,
    KeyOrganisation,
    Organisation,
    refresh_organisation_problems,
)
from integrations_app.forms import NamedForm, SecretForm, name_messages


class ChargebackStopKeyAdminForm(NamedForm[ChargebackStopKey], SecretForm[ChargebackStopKey]):
    """The pages' name rules, write-only secret and its checks; hand-entered organisations are the
    inline's job."""

    noun = ChargebackStopKeyForm.noun
    credential_label = ChargebackStopKeyForm.credential_label
    credential_validators = ChargebackStopKeyForm.credential_validators

    class Meta:
        model = ChargebackStopKey
        fields = ["name", "level", "enabled", "poll_interval_seconds"]
        error_messages = {"name": name_messages(ChargebackStopKeyForm.noun)}


class IntegrationAdminForm(TypedTextAdminForm[Integration]):
    typed_fields = ("name",)


class OrganisationAdminForm(TypedTextAdminForm[Organisation]):
    typed_fields = ("label",)


class KeyOrganisationInline(admin.TabularInline[KeyOrganisation, ChargebackStopKey]):
    model = KeyOrganisation
    extra = 1


@admin.register(ChargebackStopKey)
class ChargebackStopKeyAdmin(SecretAdmin[ChargebackStopKey], StatusColumn[ChargebackStopKey]):
    form = ChargebackStopKeyAdminForm
    list_display = ["name", "level", "secret_state", "enabled", "status", "health", "last_success_at"]
    list_filter = ["level", "enabled", "health"]
    search_fields = ["name"]
    readonly_fields = ["secret_state", "health", "health_since", "last_success_at", "last_error_message"]
    inlines = [KeyOrganisationInline]


@admin.register(Organisation)
class OrganisationAdmin(StatusColumn[Organisation]):
    form = OrganisationAdminForm
    list_display = ["__str__", "organisation_id", "status", "created_at"]
    search_fields = ["organisation_id", "label"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin[Integration]):
    form = IntegrationAdminForm
    list_display = ["name", "integration_id", "organisation", "type", "status", "since"]
    list_filter = ["status", "type", "organisation"]
    search_fields = ["name", "integration_id"]
    list_select_related = ["organisation"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # integrations are created upstream (the dashboard's form does that)

    # An integration's status and `alert_open` are facts of its key's and organisation's problem:
    # re-derive them on every change made here (polling does so for its own changes).
    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        before = Integration.objects.filter(pk=obj.pk).values_list("organisation_id", "seen_by_id").first()
        old_organisation, old_key = before or (None, None)
        super().save_model(request, obj, form, change)
        _rederive_integration_owners({obj.organisation_id, old_organisation}, {obj.seen_by_id, old_key})

    def delete_model(self, request: HttpRequest, obj: Integration) -> None:
        owners = ({obj.organisation_id}, {obj.seen_by_id})
        super().delete_model(request, obj)
        _rederive_integration_owners(*owners)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        rows = list(queryset.values_list("organisation_id", "seen_by_id"))
        super().delete_queryset(request, queryset)
        _rederive_integration_owners({org for org, _ in rows}, {key for _, key in rows})


def _rederive_integration_owners(organisation_pks: Iterable[int | None], key_pks: Iterable[int | None]) -> None:
    for key in ChargebackStopKey.objects.filter(pk__in={pk for pk in key_pks if pk is not None}):
        key.save(update_fields=[])  # derives the key's problem and its organisations'
    refresh_organisation_problems({pk for pk in organisation_pks if pk is not None})
