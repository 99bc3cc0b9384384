"""The overview grouped by client: a project, or a website linked to an organisation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.models import ClientLink, DataFastSite, Integration, Organisation, Project, ProviderState
from integrations_app.views.context import WATCHER_CACHE_KEY
from tests import factories

pytestmark = pytest.mark.django_db

GROUPED = reverse("overview") + "?group=client"


@pytest.fixture
def clients_world():
    account = factories.account()

    def site(name: str, n: int, **fields: object) -> DataFastSite:
        return DataFastSite.objects.create(account=account, name=name, website_id=f"{n:024x}", **fields)

    zeta = Project.objects.create(name="Zeta Client")
    alpha = Project.objects.create(name="alpha client")
    acme = Organisation.objects.create(organisation_id="org_acme", name="Acme Retail Group")
    lone = Organisation.objects.create(organisation_id="org_lone", label="Lonely Org")
    Organisation.objects.create(organisation_id="org_zeta", label="Zeta Org", project=zeta)
    rows = {
        "zeta_site": site("Zeta Shop", 1, project=zeta),
        "alpha_site": site("Alpha Shop", 2, project=alpha),
        "acme_store": site("Acme Store", 3),
        "acme_outlet": site("Acme Outlet", 4),
        "orphan": site("Orphan Site", 5),
    }
    for name in ("acme_store", "acme_outlet"):
        ClientLink.objects.create(site=rows[name], organisation=acme)
    ClientLink.objects.create(site=rows["orphan"], organisation=lone, state="dismissed")  # not a link
    return rows


def _site_names(response) -> list[str]:
    return [site.name for site, _ in response.context["rows"]]


def test_websites_are_grouped_by_project_then_linked_organisation(viewer_client, clients_world):
    response = viewer_client.get(GROUPED)
    assert _site_names(response) == ["Alpha Shop", "Zeta Shop", "Acme Outlet", "Acme Store", "Orphan Site"]
    html = response.content.decode()
    headings = [
        "Project: alpha client",
        "Project: Zeta Client",
        "Client: Acme Retail Group (website and organisation linked)",
        "No client: in no project and not linked",
    ]
    positions = [html.index(heading) for heading in headings]
    assert positions == sorted(positions)
    assert html.count('class="client-group"') == 4 + 3  # websites, and organisations (Zeta, Acme, the rest)


def test_organisations_are_grouped_with_their_project_or_their_linked_websites(viewer_client, clients_world):
    response = viewer_client.get(GROUPED)
    assert [str(org) for org in response.context["organisation_page"]] == [
        "Zeta Org",
        "Acme Retail Group",
        "Lonely Org",
    ]


def test_without_grouping_there_is_no_header_row(viewer_client, clients_world):
    html = viewer_client.get(reverse("overview")).content.decode()
    assert "client-group" not in html and "Project: Zeta" not in html


def test_grouping_survives_the_live_refresh_and_sorting(viewer_client, clients_world):
    html = viewer_client.get(GROUPED + "&fragment=live").content.decode()
    assert "Project: Zeta Client" in html
    response = viewer_client.get(GROUPED + "&sort=-name")
    assert _site_names(response)[2:4] == ["Acme Store", "Acme Outlet"]  # sorted within the group
    assert "group=client" in response.context["site_columns"]["name"].href


def _count(client, url: str) -> int:
    cache.delete(WATCHER_CACHE_KEY)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_grouping_costs_no_query(viewer_client, clients_world):
    account = factories.account()

    def grow(start: int, count: int) -> None:
        projects = Project.objects.bulk_create(Project(name=f"P{n}") for n in range(start, start + count // 10))
        organisations = Organisation.objects.bulk_create(
            Organisation(organisation_id=f"o{n}", name=f"Org {n}") for n in range(start, start + count // 5)
        )
        sites = DataFastSite.objects.bulk_create(
            DataFastSite(account=account, name=f"Shop {n}", website_id=f"{n:024x}", project=projects[n % len(projects)])
            if n % 3 == 0
            else DataFastSite(account=account, name=f"Shop {n}", website_id=f"{n:024x}")
            for n in range(start, start + count)
        )
        ProviderState.objects.bulk_create(ProviderState(site=site, provider="stripe", connected=True) for site in sites)
        ClientLink.objects.bulk_create(
            ClientLink(site=site, organisation=organisations[n % len(organisations)])
            for n, site in enumerate(sites)
            if n % 3 == 1
        )
        Integration.objects.bulk_create(
            Integration(integration_id=f"i{n}", organisation=organisations[0], name="x", type="X", status="ENABLED")
            for n in range(start, start + count // 10)
        )

    grow(100, 100)
    small = (_count(viewer_client, GROUPED), _count(viewer_client, GROUPED + "&fragment=live"))
    plain = _count(viewer_client, reverse("overview"))
    grow(1000, 300)
    large = (_count(viewer_client, GROUPED), _count(viewer_client, GROUPED + "&fragment=live"))
    assert small == large
    assert small[0] == plain <= 22


def test_organisations_named_only_by_their_listing_cost_no_query_each(viewer_client):
    """An organisation without a label shows its listing name: the overview loads it with the row
    (it used to load it with one query per organisation)."""
    Organisation.objects.bulk_create(Organisation(organisation_id=f"o{n}", name=f"Org {n}") for n in range(5))
    few = _count(viewer_client, reverse("overview"))
    Organisation.objects.bulk_create(Organisation(organisation_id=f"p{n}", name=f"Org {n}") for n in range(40))
    assert _count(viewer_client, reverse("overview")) == few
