"""Page timings in this process with Django's test client (the whole request/response stack:
middleware, session, auth, views, templates; no network), as a logged-in superuser.

Pages are requested round-robin, so a noisy neighbour slows every page alike, and the overview is
compared with the admin's changelist of websites at the same page size and with two floors."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.models import DataFastSite, Organisation, StatusChange
from integrations_app.views import overview

WARM_UP = 10


@dataclass
class Page:
    name: str
    url: str
    seconds: list[float] = field(default_factory=list)
    queries: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.seconds, n=20)[18] if len(self.seconds) >= 20 else max(self.seconds)


def pages() -> list[Page]:
    """The pages of the issue, with data: the website and organisation with the most history."""
    site = (
        StatusChange.objects.filter(site__isnull=False)
        .values("site")
        .annotate(n=Count("id"))
        .order_by("-n")
        .values_list("site", flat=True)
        .first()
    ) or DataFastSite.objects.values_list("pk", flat=True).first()
    organisation = (
        Organisation.objects.annotate(n=Count("integrations")).order_by("-n").values_list("pk", flat=True).first()
    )
    return [
        Page("overview", reverse("overview")),
        Page("website page", reverse("site-detail", args=[site])),
        Page("organisation page", reverse("organisation-detail", args=[organisation])),
        Page("status JSON", reverse("status-json")),
        Page("admin changelist (websites)", reverse("admin:integrations_app_datafastsite_changelist")),
        Page("floor: fixed template", reverse("bench-floor")),
        Page("floor: fixed template in the layout", reverse("bench-floor-layout")),
    ]


def same_page_size_in_admin() -> None:
    """The admin lists as many websites per page as the overview (bench process only)."""
    type(admin.site._registry[DataFastSite]).list_per_page = overview.PAGE_SIZE  # an admin option is per class


def logged_in_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")


def count_queries(client: Client, page_list: list[Page]) -> dict[str, int]:
    counts = {}
    for page in page_list:
        with CaptureQueriesContext(connection) as captured:
            _get(client, page.url)
        counts[page.name] = len(captured)
    return counts


def time_pages(client: Client, page_list: list[Page], requests: int, progress: Callable[[int], None]) -> None:
    for page in page_list:
        for _ in range(WARM_UP):
            _get(client, page.url)
    for round_number in range(requests):
        for page in page_list:
            clock = time.perf_counter()
            _get(client, page.url)
            page.seconds.append(time.perf_counter() - clock)
        if round_number % 50 == 49:
            progress(round_number + 1)
    for name, queries in count_queries(client, page_list).items():
        next(page for page in page_list if page.name == name).queries = queries
