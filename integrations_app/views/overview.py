"""The overview: counts at a glance, then websites and organisations, filtered and paged."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import DataFastSite, Organisation, ProviderState
from integrations_app.problems import Problem, only
from integrations_app.summary import PROBLEMS, count_integrations, summary

PAGE_SIZE = 50
# What the websites table shows (with what the problem's words need), so rows stay light.
LISTED_FIELDS = [
    "pk",
    "name",
    "enabled",
    "problem_rank",
    "currency",
    "paddle_key_expires_at",
    "paddle_expiry_state",
    "last_polled_at",
    "last_success_at",
]


def _filters(request: HttpRequest) -> dict[str, str]:
    problem = request.GET.get("problem", "")
    provider = request.GET.get("provider", "")
    organisation = request.GET.get("organisation", "")
    return {
        # PostgreSQL refuses NUL in a query; a search for one must not be a 500.
        "q": request.GET.get("q", "").replace("\x00", "").strip()[:100],
        "problem": problem if problem in PROBLEMS else "",
        "provider": provider if provider in PROVIDERS else "",
        "organisation": organisation if organisation.isascii() and organisation.isdigit() else "",  # not "²"
    }


class Cell(NamedTuple):
    """What a provider cell shows; lighter than a ProviderState (the page draws 300 of them)."""

    connected: bool
    alert_open: bool
    flapping_since: datetime | None


def provider_cells(sites: list[DataFastSite]) -> list[list[Cell | None]]:
    """Each site's six providers, in PROVIDERS order (None: not polled yet), in one query."""
    states: dict[int, dict[str, Cell]] = {site.pk: {} for site in sites}
    rows = ProviderState.objects.filter(site__in=states).values_list(
        "site_id", "provider", "connected", "alert_open", "flapping_since"
    )
    for site_id, provider, *cell in rows.order_by():
        states[site_id][provider] = Cell(*cell)
    return [[states[site.pk].get(provider) for provider in PROVIDERS] for site in sites]


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    # Problems first (the order of problems.ORDER), then by name ignoring case.
    sites = DataFastSite.objects.only(*LISTED_FIELDS).order_by("problem_rank", Lower("name"), "pk")
    organisations = Organisation.objects.only("pk", "label", "organisation_id", "problem_rank").order_by(
        "problem_rank", Lower("label"), "organisation_id"
    )
    if filters["problem"]:
        sites = sites.filter(only(Problem(filters["problem"])))
        organisations = organisations.filter(only(Problem(filters["problem"])))
    if filters["q"]:
        sites = sites.filter(Q(name__icontains=filters["q"]) | Q(website_id__iexact=filters["q"]))
        organisations = organisations.filter(
            Q(label__icontains=filters["q"]) | Q(organisation_id__icontains=filters["q"])
        )
    if filters["provider"]:
        using = ProviderState.objects.filter(provider=filters["provider"]).filter(
            Q(connected=True) | Q(alert_open=True)
        )
        sites = sites.filter(pk__in=using.values("site"))
    if filters["organisation"]:
        organisations = organisations.filter(pk=filters["organisation"])
    site_page = Paginator(sites, PAGE_SIZE).get_page(request.GET.get("page"))
    organisation_page = Paginator(organisations, PAGE_SIZE).get_page(request.GET.get("org_page"))
    count_integrations(organisation_page)
    rows = list(zip(site_page, provider_cells(list(site_page)), strict=True))
    context = {
        "rows": rows,
        "summary": summary(),
        "filters": filters,
        "problems": PROBLEMS,
        "providers": PROVIDERS,
        "site_page": site_page,
        "organisation_page": organisation_page,
        # The filter's list; the live fragment never shows it, so the query runs only for the full page.
        "organisation_choices": Organisation.objects.order_by("label", "organisation_id").values_list(
            "pk", "label", "organisation_id"
        ),
        "refresh_seconds": settings.OVERVIEW_REFRESH_SECONDS,
    }
    if request.GET.get("fragment") == "live":
        return render(request, "integrations_app/_overview_live.html", context)
    return render(request, "integrations_app/overview.html", context)
