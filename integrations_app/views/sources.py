"""Detail pages: a website, a ChargebackStop key, an organisation, an integration."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
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
    Merchant,
    Organisation,
    PollAttempt,
    Project,
    StatusChange,
)
from integrations_app.models.history import ChangeKind
from integrations_app.scoping import can_manage_project, scope_of, sees
from integrations_app.views import acks, silences, timeline
from integrations_app.views.links import organisation_websites, site_client

HISTORY_ROWS = 50
ATTEMPT_ROWS = 10
TIMELINE_ROWS = 30  # an organisation with hundreds of integrations draws the first 30


def _timelines(
    timelines: list[timeline.Timeline], window: str, now: datetime, words: dict[str, str], left_out: int = 0
) -> dict[str, Any]:
    """What `_timelines.html` needs, and the live refresh."""
    return {
        "timelines": timelines,
        "timeline_width": timeline.WIDTH,
        "timeline_window": window,
        "timeline_title": timeline.WINDOW_WORDS[window],
        "timeline_ranges": list(timeline.WINDOW_WORDS.items()),
        "timeline_legend": [(state, words[state]) for state in timeline.LEGEND],
        "timeline_axis": timeline.axis(window, now),
        "timelines_left_out": left_out,
        "refresh_seconds": settings.OVERVIEW_REFRESH_SECONDS,
    }


def _integration_bars(
    integrations: list[Integration], window: str, now: datetime, **scope: Any
) -> list[timeline.Timeline]:
    """One bar per integration, from one query for all their status changes in the window."""
    changes: dict[int | None, list[StatusChange]] = {integration.pk: [] for integration in integrations}
    rows = StatusChange.objects.filter(
        **scope, kind=ChangeKind.INTEGRATION_STATUS, integration__in=changes, at__gte=now - timeline.WINDOWS[window]
    ).order_by("at", "id")
    for change in rows:
        changes[change.integration_id].append(change)
    return [
        timeline.build(
            integration.integration_id,
            integration.name or integration.integration_id,
            current=timeline.state_of(integration.status, "problem" if integration.alert_open else "info"),
            watched_since=integration.first_seen_at,
            changes=changes[integration.pk],
            now=now,
            window=window,
            words=timeline.INTEGRATION_WORDS,
        )
        for integration in integrations
    ]


def _project_context(request: HttpRequest, project_id: int | None) -> dict[str, Any]:
    """What a source page needs to show its project: who may change it, the assign form (staff)."""
    scope = scope_of(request.user)
    return {
        "can_change": scope.can_change(project_id),
        "sees_keys": scope.everything,  # keys have no project: their pages are not a member's
        "project_choices": Project.objects.values_list("pk", "name") if scope.staff_wide else [],
    }


def merchants_by_name(merchant_ids: list[str], organisation: Organisation | None = None) -> list[Merchant]:
    """These merchants by name and type as GET /v1/merchants listed them, in one query (with the
    organisation's other listed merchants when one is given); an ID never listed stays an unsaved
    row with its ID alone, so the page names it all the same."""
    rows = Merchant.objects.filter(merchant_id__in=merchant_ids)
    if organisation is not None:
        rows = Merchant.objects.filter(Q(merchant_id__in=merchant_ids) | Q(organisation=organisation))
    found = {row.merchant_id: row for row in rows}
    return sorted(found.values(), key=lambda row: (row.name.casefold(), row.merchant_id)) + [
        Merchant(merchant_id=merchant_id) for merchant_id in dict.fromkeys(merchant_ids) if merchant_id not in found
    ]


def _history(changes: QuerySet[StatusChange]) -> list[tuple[StatusChange, Described]]:
    return [(change, describe(change)) for change in with_relations(changes)[:HISTORY_ROWS]]


@sees(lambda: DataFastSite.objects.select_related("account", "project"))
@require_safe
def site_detail(request: HttpRequest, site: DataFastSite) -> HttpResponse:
    now = timezone.now()
    window = timeline.window_of(request.GET.get("range"))
    states = {state.provider: state for state in site.providers.all()}
    changes = list(
        StatusChange.objects.filter(
            site=site, kind=ChangeKind.PROVIDER, at__gte=now - timeline.WINDOWS[window]
        ).order_by("at", "id")
    )
    timelines = [
        timeline.build(
            provider,
            label,
            current=("up" if states[provider].connected else "off") if provider in states else None,
            watched_since=site.created_at,
            changes=[change for change in changes if change.provider == provider],
            now=now,
            window=window,
        )
        for provider, label in PROVIDERS.items()
    ]
    context = {
        "site": site,
        "provider_states": states,
        "providers": [(provider, label, states.get(provider)) for provider, label in PROVIDERS.items()],
        **_timelines(timelines, window, now, timeline.STATE_WORDS),
        "last_error": upstreams.of(site).last_error(site),
        "attempts": PollAttempt.objects.filter(site=site)[:ATTEMPT_ROWS],
        "history": _history(StatusChange.objects.filter(site=site)),
        **_project_context(request, site.project_id),
        **silences.for_source(request, f"?site={site.pk}", project_id=site.project_id, site_id=site.pk),
        **acks.for_source(request, StatusChange.objects.filter(site=site), site.project_id),
        **site_client(scope_of(request.user), site),
    }
    return render(request, "integrations_app/site_detail.html", context)


# A key belongs to no project: only users who see everything open its page (others get 404).
@sees(ChargebackStopKey.objects.all)
@require_safe
def key_detail(request: HttpRequest, key: ChargebackStopKey) -> HttpResponse:
    context = {
        "key": key,
        "refresh_seconds": settings.OVERVIEW_REFRESH_SECONDS,
        "links": KeyOrganisation.objects.filter(key=key)
        .select_related("organisation")
        .order_by("organisation__label", "organisation__organisation_id"),
        "last_error": upstreams.of(key).last_error(key),
        "attempts": PollAttempt.objects.filter(key=key)[:ATTEMPT_ROWS],
        "history": _history(StatusChange.objects.filter(key=key, kind=ChangeKind.SOURCE_HEALTH)),
        "can_change": scope_of(request.user).staff_wide,
    }
    return render(request, "integrations_app/key_detail.html", context)


@sees(lambda: Organisation.objects.select_related("project"))
@require_safe
def organisation_detail(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    now = timezone.now()
    window = timeline.window_of(request.GET.get("range"))
    integrations = list(organisation.integrations.order_by("status", "name", "pk"))
    bars = _integration_bars(integrations[:TIMELINE_ROWS], window, now, organisation=organisation)
    context = {
        "organisation": organisation,
        "integrations": integrations,
        "merchants": merchants_by_name(organisation.merchant_ids[:200], organisation),
        **_timelines(bars, window, now, timeline.INTEGRATION_WORDS, max(len(integrations) - TIMELINE_ROWS, 0)),
        "links": KeyOrganisation.objects.filter(organisation=organisation).select_related("key").order_by("key__name"),
        "history": _history(StatusChange.objects.filter(organisation=organisation)),
        **_project_context(request, organisation.project_id),
        **silences.for_source(
            request,
            f"?organisation={organisation.pk}",
            project_id=organisation.project_id,
            organisation_id=organisation.pk,
        ),
        **acks.for_source(request, StatusChange.objects.filter(organisation=organisation), organisation.project_id),
        **organisation_websites(scope_of(request.user), organisation),
    }
    return render(request, "integrations_app/organisation_detail.html", context)


@sees(lambda: Integration.objects.select_related("organisation", "seen_by"))
@require_safe
def integration_detail(request: HttpRequest, integration: Integration) -> HttpResponse:
    now = timezone.now()
    window = timeline.window_of(request.GET.get("range"))
    context = {
        "integration": integration,
        "merchants": merchants_by_name(integration.merchant_ids[: settings.CHARGEBACKSTOP_MAX_MERCHANT_IDS]),
        **_timelines(_integration_bars([integration], window, now), window, now, timeline.INTEGRATION_WORDS),
        "history": _history(StatusChange.objects.filter(integration=integration)),
        "audit": AuditEntry.objects.filter(target=f"integration {integration.integration_id}")[:HISTORY_ROWS],
        "can_change": can_manage_project(request.user, integration.organisation.project_id),
        "sees_keys": scope_of(request.user).everything,
        **silences.for_source(
            request,
            f"?integration={integration.pk}",
            windows_allowed=False,
            project_id=integration.organisation.project_id,
            organisation_id=integration.organisation_id,
            integration_id=integration.pk,
        ),
        **acks.for_source(
            request, StatusChange.objects.filter(integration=integration), integration.organisation.project_id
        ),
    }
    return render(request, "integrations_app/integration_detail.html", context)
