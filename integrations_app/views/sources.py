"""Detail pages: a website, a ChargebackStop key, an organisation, an integration."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from integrations_app import upstreams
from integrations_app.alerts.describe import Described, describe, with_relations
from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import (
    AuditEntry,
    ChargebackStopKey,
    DataFastSite,
    Integration,
    KeyOrganisation,
    Organisation,
    PollAttempt,
    StatusChange,
)
from integrations_app.models.history import ChangeKind
from integrations_app.views import timeline

HISTORY_ROWS = 50
ATTEMPT_ROWS = 10


def _history(changes: QuerySet[StatusChange]) -> list[tuple[StatusChange, Described]]:
    return [(change, describe(change)) for change in with_relations(changes)[:HISTORY_ROWS]]


@login_required
@require_safe
def site_detail(request: HttpRequest, pk: int) -> HttpResponse:
    site = get_object_or_404(DataFastSite.objects.select_related("account"), pk=pk)
    now = timezone.now()
    states = {state.provider: state for state in site.providers.all()}
    window = list(
        StatusChange.objects.filter(site=site, kind=ChangeKind.PROVIDER, at__gte=now - timeline.WINDOW).order_by(
            "at", "id"
        )
    )
    timelines = [
        timeline.build(
            provider,
            label,
            current=states[provider].connected if provider in states else None,
            watched_since=site.created_at,
            changes=[change for change in window if change.provider == provider],
            now=now,
        )
        for provider, label in PROVIDERS.items()
    ]
    context = {
        "site": site,
        "provider_states": states,
        "providers": [(provider, label, states.get(provider)) for provider, label in PROVIDERS.items()],
        "timelines": timelines,
        "timeline_width": timeline.WIDTH,
        "last_error": upstreams.of(site).last_error(site),
        "attempts": PollAttempt.objects.filter(site=site)[:ATTEMPT_ROWS],
        "history": _history(StatusChange.objects.filter(site=site)),
    }
    return render(request, "integrations_app/site_detail.html", context)


@login_required
@require_safe
def key_detail(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ChargebackStopKey, pk=pk)
    context = {
        "key": key,
        "links": KeyOrganisation.objects.filter(key=key)
        .select_related("organisation")
        .order_by("organisation__label", "organisation__organisation_id"),
        "last_error": upstreams.of(key).last_error(key),
        "attempts": PollAttempt.objects.filter(key=key)[:ATTEMPT_ROWS],
        "history": _history(StatusChange.objects.filter(key=key, kind=ChangeKind.SOURCE_HEALTH)),
    }
    return render(request, "integrations_app/key_detail.html", context)


@login_required
@require_safe
def organisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    organisation = get_object_or_404(Organisation, pk=pk)
    context = {
        "organisation": organisation,
        "integrations": organisation.integrations.order_by("status", "name"),
        "links": KeyOrganisation.objects.filter(organisation=organisation).select_related("key").order_by("key__name"),
        "history": _history(StatusChange.objects.filter(organisation=organisation)),
    }
    return render(request, "integrations_app/organisation_detail.html", context)


@login_required
@require_safe
def integration_detail(request: HttpRequest, pk: int) -> HttpResponse:
    integration = get_object_or_404(Integration.objects.select_related("organisation", "seen_by"), pk=pk)
    context = {
        "integration": integration,
        "history": _history(StatusChange.objects.filter(integration=integration)),
        "audit": AuditEntry.objects.filter(target=f"integration {integration.integration_id}")[:HISTORY_ROWS],
    }
    return render(request, "integrations_app/integration_detail.html", context)
