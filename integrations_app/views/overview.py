"""The overview: counts at a glance, then websites and organisations, filtered and paged."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import BaseExpression, OrderBy
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_safe

from integrations_app.alerts import acks
from integrations_app.chargebackstop.models import shown_name
from integrations_app.datafast.client import PROVIDERS
from integrations_app.datafast.discovery import with_notices
from integrations_app.models import DataFastAccount, DataFastSite, Organisation, Project, ProviderState
from integrations_app.problems import Problem, only, with_a_problem
from integrations_app.scoping import scope_of
from integrations_app.views import clients
from integrations_app.views.strip import strips
from integrations_app.views.summary import PROBLEMS, Summary, count_integrations, summary

PAGE_SIZE = 50
# Discovery notices at the top of the overview; the rest are one line linking to the Credentials
# page, which shows them all: 200 tokens' notices were a wall above the statuses, and most of the
# overview's time at 200 accounts (rendering them, ~25 ms).
NOTICES_SHOWN = 5
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
    "unlisted_since",
]


# Sortable columns: the key in `?sort=` (`-key` for descending) and what it orders by. Every order
# ends with problems first, then the name ignoring case ("Cedar" before "CLI Added Shop"), then pk,
# so pages never shuffle between refreshes.
# What a column orders by: a field (`F`) or an expression such as `Lower("name")`.
Sortable = BaseExpression | F
SITE_SORTS: dict[str, Sortable] = {
    "name": Lower("name"),
    "status": F("problem_rank"),
    "currency": F("currency"),
    "paddle": F("paddle_key_expires_at"),
    "polled": F("last_polled_at"),
}
SITE_LABELS = {
    "name": "Website",
    "status": "Status",
    "currency": "Currency",
    "paddle": "Paddle key",
    "polled": "Last polled",
}
SITE_TIES = [F("problem_rank").asc(), Lower("name").asc(), F("pk").asc()]
# Organisations by the name pages show: their label, else the name the listing gave, else the ID.
ORGANISATION_SORTS: dict[str, Sortable] = {"name": Lower(shown_name()), "status": F("problem_rank")}
ORGANISATION_TIES = [F("problem_rank").asc(), Lower(shown_name()).asc(), F("organisation_id").asc()]


class Column(NamedTuple):
    """A header: its words, and for a sortable one the link that sorts by it and its aria-sort."""

    label: str
    href: str = ""
    aria_sort: str = ""  # ascending / descending / "" (not sorted by it)

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼"}.get(self.aria_sort, "")


def _sort(value: str, sorts: dict[str, Sortable]) -> str:
    return value if value.removeprefix("-") in sorts else "status"


def _ordering(sort: str, sorts: dict[str, Sortable], ties: list[OrderBy]) -> list[OrderBy]:
    expression = sorts[sort.removeprefix("-")]
    # Empty values (no Paddle key, never polled) stay at the bottom whichever way one sorts.
    primary = expression.desc(nulls_last=True) if sort.startswith("-") else expression.asc(nulls_last=True)
    return [primary, *ties]


def _columns(request: HttpRequest, param: str, current: str, labels: dict[str, str]) -> dict[str, Column]:
    """One Column per sortable key: clicking sorts ascending, clicking the sorted one reverses it."""
    columns = {}
    for key, label in labels.items():
        query: QueryDict = request.GET.copy()
        for dropped in ("page", "org_page", "fragment"):
            query.pop(dropped, None)
        query[param] = f"-{key}" if current == key else key
        aria = {key: "ascending", f"-{key}": "descending"}.get(current, "")
        columns[key] = Column(label, "?" + query.urlencode(), aria)
    return columns


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
        # Kept with the filters so that paging keeps the order; not a filter itself.
        "sort": _sort(request.GET.get("sort", ""), SITE_SORTS),
        "org_sort": _sort(request.GET.get("org_sort", ""), ORGANISATION_SORTS),
        # Rows grouped by client (a project, or a linked website and organisation): not a filter.
        "group": "client" if request.GET.get("group") == "client" else "",
    }


def _is_filtered(filters: dict[str, str]) -> bool:
    return any(value for name, value in filters.items() if name not in ("sort", "org_sort", "group"))


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
        states[site_id][provider] = Cell._make(cell)
    return [[states[site.pk].get(provider) for provider in PROVIDERS] for site in sites]


def problem_line(numbers: Summary) -> str:
    """The one sentence a screen reader hears when the overview refreshes and something changed."""
    sites = with_a_problem(numbers.sites_by_problem)
    organisations = with_a_problem(numbers.organisations_by_problem)
    if not sites and not organisations:
        return f"No problem among {numbers.sites} websites and {numbers.organisations} organisations"
    return (
        f"{sites} of {numbers.sites} websites and {organisations} of {numbers.organisations} organisations "
        "have a problem"
    )


def _listed_count(
    filters: dict[str, str], narrowing: tuple[str, ...], total: int, by_problem: dict[str, int]
) -> int | None:
    """How many rows a table lists when the summary has counted them already: every row of the
    scope, or the rows of one problem (the cards' counts, from the same scope). None when another
    filter (`narrowing`) leaves rows the summary did not count apart: the pager counts those."""
    if any(filters[name] for name in narrowing):
        return None
    return by_problem[filters["problem"]] if filters["problem"] else total


def _paginator(rows: QuerySet[Any], count: int | None) -> Paginator[Any]:
    """A pager of PAGE_SIZE; told `count`, it runs no COUNT(*) of its own. On PostgreSQL, after a
    poll cycle has rewritten every website (their pages no longer all-visible until a vacuum), a
    count reads the whole table: ~7 ms at 50,000 websites, the summary's and the pager's alike."""
    paginator = Paginator(rows, PAGE_SIZE)
    if count is not None:
        paginator.count = count  # what its cached_property would have stored
    return paginator


@login_required
@require_safe
def overview(request: HttpRequest) -> HttpResponse:
    filters = _filters(request)
    scope = scope_of(request.user)  # every list, count and choice below is narrowed to it
    # By default problems first (the order of problems.ORDER), then by name ignoring case.
    sites = scope.filter(DataFastSite.objects.only(*LISTED_FIELDS)).order_by(
        *_ordering(filters["sort"], SITE_SORTS, SITE_TIES)
    )
    organisations = scope.filter(
        Organisation.objects.only("pk", "label", "name", "mode", "organisation_id", "problem_rank")
    ).order_by(*_ordering(filters["org_sort"], ORGANISATION_SORTS, ORGANISATION_TIES))
    if filters["problem"]:
        sites = sites.filter(only(Problem(filters["problem"])))
        organisations = organisations.filter(only(Problem(filters["problem"])))
    if filters["q"]:
        sites = sites.filter(Q(name__icontains=filters["q"]) | Q(website_id__iexact=filters["q"]))
        organisations = organisations.filter(
            Q(label__icontains=filters["q"])
            | Q(name__icontains=filters["q"])
            | Q(organisation_id__icontains=filters["q"])
        )
    if filters["provider"]:
        using = ProviderState.objects.filter(provider=filters["provider"]).filter(
            Q(connected=True) | Q(alert_open=True)
        )
        sites = sites.filter(pk__in=using.values("site"))
    if filters["organisation"]:
        organisations = organisations.filter(pk=filters["organisation"])
    if filters["group"]:
        sites = clients.group_sites(sites).order_by(
            *clients.ordering(_ordering(filters["sort"], SITE_SORTS, SITE_TIES))
        )
        organisations = clients.group_organisations(organisations).order_by(
            *clients.ordering(_ordering(filters["org_sort"], ORGANISATION_SORTS, ORGANISATION_TIES))
        )
    numbers = summary(scope)
    site_count = _listed_count(filters, ("q", "provider"), numbers.sites, numbers.sites_by_problem)
    site_page = _paginator(sites, site_count).get_page(request.GET.get("page"))
    organisation_count = _listed_count(
        filters, ("q", "organisation"), numbers.organisations, numbers.organisations_by_problem
    )
    organisation_page = _paginator(organisations, organisation_count).get_page(request.GET.get("org_page"))
    count_integrations(organisation_page)
    listed = list(site_page)
    rows = list(zip(listed, provider_cells(listed), strict=True))
    acks.mark_acknowledged(listed, list(organisation_page))
    fragment = request.GET.get("fragment") == "live"
    context = {
        "rows": rows,
        "strips": strips(listed),
        "problem_line": problem_line(numbers),
        "filtered": _is_filtered(filters),
        "site_columns": _columns(request, "sort", filters["sort"], SITE_LABELS),
        "organisation_columns": _columns(
            request, "org_sort", filters["org_sort"], {"name": "Organisation", "status": "Status"}
        ),
        "summary": numbers,
        "filters": filters,
        "problems": PROBLEMS,
        "providers": PROVIDERS,
        "site_page": site_page,
        "organisation_page": organisation_page,
        # The filter's list; the live fragment never shows it, so the query runs only for the full page.
        "organisation_choices": scope.filter(Organisation.objects.all())
        .order_by(Lower(shown_name()), "organisation_id")
        .values_list("pk", "label", "name", "mode", "organisation_id"),
        "refresh_seconds": settings.OVERVIEW_REFRESH_SECONDS,
        # Staff-wide users tick rows and move them to a project (views.projects.move_sources).
        "selectable": scope.staff_wide,
        "grouped": bool(filters["group"]),
        "move_choices": Project.objects.values_list("pk", "name") if scope.staff_wide and not fragment else [],
    }
    # New websites on a token, websites no longer listed: staff act on them (two queries, once counted).
    notices = with_notices(DataFastAccount.objects.all()) if scope.staff_wide and not fragment else []
    context["discovery_notices"], context["more_notices"] = notices[:NOTICES_SHOWN], len(notices[NOTICES_SHOWN:])
    if fragment:
        return render(request, "integrations_app/_overview_live.html", context)
    return render(request, "integrations_app/overview.html", context)
