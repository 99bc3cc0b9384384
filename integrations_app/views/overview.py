"""The overview: counts at a glance, then websites and organisations, filtered and paged."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import DataFastSite, Organisation, ProviderState
from integrations_app.summary import PROBLEMS, annotated_sites, organisations_with_counts, problem_filter, summary

PAGE_SIZE = 50


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


def provider_cells(site: DataFastSite) -> list[tuple[str, ProviderState | None]]:
    states = {state.provider: state for state in site.providers.all()}
    return [(provider, states.get(provider)) for provider in PROVIDERS]


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    sites = (
        annotated_sites()
        .filter(problem_filter(filters["problem"]))
        .select_related("account")
        .prefetch_related(Prefetch("providers", queryset=ProviderState.objects.order_by()))
        .order_by("name", "pk")
    )
    organisations = organisations_with_counts().order_by("label", "organisation_id")
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
    rows = [(site, provider_cells(site)) for site in site_page]
    context = {
        "rows": rows,
        "summary": summary(),
        "filters": filters,
        "problems": PROBLEMS,
        "providers": PROVIDERS,
        "site_page": site_page,
        "organisation_page": organisation_page,
        "organisation_choices": Organisation.objects.order_by("label", "organisation_id").only(
            "pk", "label", "organisation_id"
        ),
        "refresh_seconds": settings.OVERVIEW_REFRESH_SECONDS,
    }
    if request.GET.get("fragment") == "live":
        return render(request, "integrations_app/_overview_live.html", context)
    return render(request, "integrations_app/overview.html", context)
