"""The overview's triage: sorting, paging words, what the filters apply to, the empty states."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_script_prefix
from django.urls import reverse

from integrations_app import timezones
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Acknowledgement, DataFastSite, Health, Membership, Organisation, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.models.problem import RANK, Problem
from tests import demo, factories

pytestmark = pytest.mark.django_db


def names(response) -> list[str]:
    return [site.name for site, _ in response.context["rows"]]


def sites(*names_and_health: tuple[str, str]) -> None:
    account = factories.account()
    for index, (name, health) in enumerate(names_and_health):
        DataFastSite.objects.create(account=account, name=name, website_id=f"{index:024x}", health=health)


def test_problems_come_first_then_names_ignoring_case(viewer_client):
    sites(
        ("cedar", Health.OK),
        ("CLI Added Shop", Health.OK),
        ("Broken", Health.CREDENTIAL_REJECTED),
        ("apple", Health.OK),
    )
    assert names(viewer_client.get(reverse("overview"))) == ["Broken", "apple", "cedar", "CLI Added Shop"]


def test_columns_sort_both_ways_and_say_so(viewer_client):
    sites(("cedar", Health.OK), ("CLI Added Shop", Health.OK), ("Broken", Health.CREDENTIAL_REJECTED))
    response = viewer_client.get(reverse("overview") + "?sort=name")
    assert names(response) == ["Broken", "cedar", "CLI Added Shop"]
    html = response.content.decode()
    assert re.search(r'<th scope="col" aria-sort="ascending"><a class="sort" href="\?sort=-name">Website', html)
    assert names(viewer_client.get(reverse("overview") + "?sort=-name")) == ["CLI Added Shop", "cedar", "Broken"]
    # Unknown sorts fall back to the default; paging keeps the chosen order.
    assert names(viewer_client.get(reverse("overview") + "?sort=secret")) == ["Broken", "cedar", "CLI Added Shop"]


def test_more_than_a_page_says_which_rows_are_shown(viewer_client):
    sites(*[(f"Shop {n:02}", Health.OK) for n in range(60)])
    html = viewer_client.get(reverse("overview")).content.decode()
    assert "1–50 of 60 websites" in html
    assert "51–60 of 60 websites" in viewer_client.get(reverse("overview") + "?page=2").content.decode()
    assert "60 shown" not in html


PAGER_COUNT = r'"__count" FROM "integrations_app_(datafastsite|organisation)"'


def _pager_counts(client, url: str) -> tuple[Any, list[str]]:
    """The response, and the COUNT(*) queries the pagers ran (Django's "__count", on their tables)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, [query["sql"] for query in queries if re.search(PAGER_COUNT, query["sql"])]


@pytest.mark.parametrize(
    ("query", "websites", "organisations"),
    [
        ("", 57, 3),
        ("?page=2&group=client", 57, 3),
        ("?problem=ok&page=2", 55, 0),
        ("?problem=pending", 0, 2),
        ("?problem=credential_rejected&sort=-name", 2, 0),
        ("?problem=disconnected", 0, 1),
    ],
)
def test_the_pagers_use_the_summarys_counts_instead_of_counting_again(viewer_client, query, websites, organisations):
    """The summary counted the scope's rows and each problem's: the pagers take its numbers, which
    are the cards' (a COUNT(*) of their own read the whole table a second time on PostgreSQL)."""
    sites(
        *[(f"Shop {n:02}", Health.OK) for n in range(55)], *[(f"Broken {n}", Health.CREDENTIAL_REJECTED) for n in "ab"]
    )
    Organisation.objects.bulk_create(Organisation(organisation_id=f"org_{n}", name=f"Org {n}") for n in "ab")
    Organisation.objects.create(organisation_id="org_c", name="Org c", problem_rank=RANK[Problem.DISCONNECTED])
    response, counts = _pager_counts(viewer_client, reverse("overview") + query)
    assert counts == []
    assert response.context["site_page"].paginator.count == websites
    assert response.context["organisation_page"].paginator.count == organisations
    shown = websites - 50 if "page=2" in query else min(websites, 50)
    assert len(response.context["rows"]) == shown
    if websites > 50:
        assert f"Page {2 if 'page=2' in query else 1} of 2" in response.content.decode()


def test_a_members_pagers_count_only_their_projects_rows(client):
    """The summary is of the member's scope, so are the pagers' counts taken from it."""
    mine, other = factories.project("Mine"), factories.project("Other")
    account = factories.account()
    DataFastSite.objects.bulk_create(
        DataFastSite(account=account, name=f"Shop {n:02}", website_id=f"{n:024x}", project=mine if n < 52 else other)
        for n in range(60)
    )
    Organisation.objects.create(organisation_id="org_mine", name="Mine", project=mine)
    Organisation.objects.create(organisation_id="org_other", name="Other", project=other)
    member = factories.viewer("member")
    Membership.objects.create(project=mine, user=member)
    client.force_login(member)
    response, counts = _pager_counts(client, reverse("overview") + "?page=2")
    assert counts == []
    assert response.context["site_page"].paginator.count == 52 == response.context["summary"].sites
    assert response.context["organisation_page"].paginator.count == 1
    assert names(response) == ["Shop 50", "Shop 51"]


def test_a_search_or_a_provider_counts_what_it_lists(viewer_client):
    """Rows the summary did not count apart are counted by their pager."""
    sites(*[(f"Shop {n:02}", Health.OK) for n in range(55)], ("Other", Health.OK))
    Organisation.objects.create(organisation_id="org_shop", name="Shop group")
    response, counts = _pager_counts(viewer_client, reverse("overview") + "?q=shop&page=2")
    assert len(counts) == 2  # the websites and the organisations found
    assert response.context["site_page"].paginator.count == 55
    assert "51–55 of 55 websites" in response.content.decode()
    response, counts = _pager_counts(viewer_client, reverse("overview") + "?provider=stripe")
    assert len(counts) == 1 and response.context["site_page"].paginator.count == 0  # none polled yet
    organisation = Organisation.objects.get()
    response, counts = _pager_counts(viewer_client, reverse("overview") + f"?organisation={organisation.pk}")
    assert len(counts) == 1 and response.context["organisation_page"].paginator.count == 1


def test_the_organisation_filter_says_why_websites_stay(viewer_client, sandbox):
    site = factories.site()
    poll_site(site.pk)
    organisation = Organisation.objects.create(organisation_id=demo.ACME_ORG, label="Acme Retail Group")
    response = viewer_client.get(reverse("overview") + f"?organisation={organisation.pk}")
    assert "DataFast websites belong to no ChargebackStop organisation" in response.content.decode()
    assert names(response) == ["Acme Store"]


def test_a_filtered_empty_state_offers_to_clear_the_filters(client):
    client.force_login(factories.staff())
    sites(("Acme", Health.OK))
    html = client.get(reverse("overview") + "?q=nothing-matches").content.decode()
    assert "No website matches these filters." in html and ">Clear filters</a>" in html
    assert "Add a DataFast website" not in html
    html = client.get(reverse("overview") + "?q=acme").content.decode()
    assert "No organisation matches these filters." in html


def test_an_empty_dashboard_offers_to_add_a_website(client):
    client.force_login(factories.staff())
    html = client.get(reverse("overview")).content.decode()
    assert "Add a DataFast website" in html and "Clear filters" not in html


HOSTILE = '<script>alert(1)</script>" onmouseover="alert(2)\' &amp;'
HOSTILE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;&quot; onmouseover=&quot;alert(2)&#x27; &amp;amp;"


@pytest.mark.parametrize("query", ["", "?group=client"])
def test_names_from_outside_are_escaped_in_every_part_of_the_rows(staff_client, query):
    """The rows are built in Python (templatetags/paystatus.py), not by the template's autoescape:
    every name, ID, comment and username from outside still reaches the page as text."""
    project = factories.project(HOSTILE)
    site = factories.site(name=HOSTILE, currency="<b>", health=Health.CREDENTIAL_REJECTED, project=project)
    opened = StatusChange.objects.create(
        site=site, kind=ChangeKind.PROVIDER, provider="stripe", severity=Severity.PROBLEM, old="x", new="y"
    )
    Acknowledgement.objects.create(opened_by=opened, username=HOSTILE, comment=HOSTILE)
    Organisation.objects.create(organisation_id=HOSTILE, label=HOSTILE, name=HOSTILE, project=project)
    Organisation.objects.create(organisation_id="org-2", name=HOSTILE)
    html = staff_client.get(reverse("overview") + query).content.decode()
    assert 'data-acknowledged="' in html, "the acknowledgement's badge is drawn"
    assert "<script>alert" not in html and 'onmouseover="' not in html and "<b>" not in html
    assert "&lt;b&gt;" in html, "the currency"
    # The name, title, checkbox label, ID, ack and option of each row; the group's heading.
    assert html.count(HOSTILE_ESCAPED) >= 12


def test_the_organisation_filter_lists_upstream_names_on_one_clean_line(viewer_client):
    """An option holds no `<bdi>`: a direction override or a line break in an upstream name would
    reorder or break the dropdown, so its text is `one_line`'s, as the rows' titles are."""
    nul = "\x00" if connection.vendor == "sqlite" else ""  # PostgreSQL stores no NUL (nor does the client)
    hostile = Organisation.objects.create(
        organisation_id="org-1", name=f"Acme\r\nRetail\t{nul}Group \u202eLIPA\u2066x\u2069\u200b"
    )
    labelled = Organisation.objects.create(organisation_id="org-2", label="\u202bCedar\u2028Hotels", mode="TEST")
    html = viewer_client.get(reverse("overview")).content.decode()
    assert f'<option value="{hostile.pk}">Acme Retail Group LIPAx</option>' in html
    assert f'<option value="{labelled.pk}">Cedar Hotels (TEST)</option>' in html


def test_rows_link_under_the_script_prefix_and_show_times_in_the_readers_zone(viewer_client):
    """The rows reverse their link and read the clock and the zone once per table
    (templatetags/paystatus.py): each row still links to its own page under the prefix the
    dashboard is served at, and its times are the reader's."""
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    site = factories.site(last_polled_at=at - timedelta(minutes=3))
    other = factories.site(website_id="0" * 24, name="Other", last_polled_at=at - timedelta(hours=2))
    organisation = Organisation.objects.create(organisation_id="org-1", name="Acme")
    session = viewer_client.session
    session[timezones.SESSION_KEY] = "Asia/Tokyo"
    session.save()
    with time_machine.travel(at, tick=False), override_script_prefix("/paystatus/"):
        html = viewer_client.get("/").content.decode()
    assert f'href="/paystatus/sites/{site.pk}/"' in html and f'href="/paystatus/sites/{other.pk}/"' in html
    assert f'href="/paystatus/organisations/{organisation.pk}/"' in html
    assert 'title="Monday 01 June 2026, 20:57:00 JST">3 min ago</time>' in html
    assert 'title="Monday 01 June 2026, 19:00:00 JST">2 h 0 min ago</time>' in html
