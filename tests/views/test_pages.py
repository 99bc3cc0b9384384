"""The read-only pages: content, access, and a constant number of SQL queries."""

from __future__ import annotations

import json
import re

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, DataFastSite, Integration, Organisation, ProviderState
from integrations_app.views.context import WATCHER_CACHE_KEY
from tests import demo, factories
from tests.factories import present

pytestmark = pytest.mark.django_db


@pytest.fixture
def polled(sandbox):
    """Two websites and a partner key, polled once; Stripe then switched off on Acme."""
    acme = factories.site()
    bluebird = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books")
    key = factories.key()
    for site in (acme, bluebird):
        poll_site(site.pk)
    poll_key(key.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(acme.pk)
    return {"acme": acme, "bluebird": bluebird, "key": key}


def test_every_page_needs_a_login(client, polled):
    for url in [
        reverse("overview"),
        reverse("site-detail", args=[polled["acme"].pk]),
        reverse("key-detail", args=[polled["key"].pk]),
        reverse("organisation-detail", args=[present(Organisation.objects.first()).pk]),
        reverse("integration-detail", args=[present(Integration.objects.first()).pk]),
        reverse("alerts"),
        reverse("audit"),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login"))


def test_the_overview_counts_and_lists_sites_and_organisations(viewer_client, polled):
    response = viewer_client.get(reverse("overview"))
    html = response.content.decode()
    summary = response.context["summary"]
    assert (summary.sites, summary.sites_by_problem["disconnected"], summary.sites_by_problem["ok"]) == (2, 1, 1)
    assert summary.integrations_enabled == Integration.objects.filter(status="ENABLED").count()
    assert "Acme Store" in html and "Bluebird Books" in html
    assert "Acme Retail Group" in html or demo.ACME_ORG in html
    assert "Disconnected" in html, "status is named in words, not only by colour"


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("problem=disconnected", "Acme Store", "Bluebird Books"),
        ("problem=ok", "Bluebird Books", "Acme Store"),
        ("q=blue", "Bluebird Books", "Acme Store"),
        ("provider=lemonsqueezy", "Bluebird Books", "Acme Store"),
    ],
)
def test_the_overview_filters(viewer_client, polled, query, shown, hidden):
    response = viewer_client.get(reverse("overview") + "?" + query)
    names = [site.name for site, _ in response.context["rows"]]
    assert shown in names
    assert hidden not in names


def test_the_live_fragment_is_only_the_refreshing_part(viewer_client, polled):
    response = viewer_client.get(reverse("overview") + "?fragment=live")
    html = response.content.decode()
    assert "<html" not in html
    assert "Acme Store" in html


def test_the_website_page_shows_providers_timeline_and_history(viewer_client, polled):
    response = viewer_client.get(reverse("site-detail", args=[polled["acme"].pk]))
    html = response.content.decode()
    assert "Stripe disconnected on Acme Store" in html
    assert html.count('class="timeline"') == 6
    assert "Paddle key expiry" in html and re.search(r"in \d+ days", html) and "days left" not in html
    assert "USD" in html


def test_the_website_page_explains_the_last_error_in_plain_words(viewer_client, polled, sandbox):
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    poll_site(polled["acme"].pk)
    html = viewer_client.get(reverse("site-detail", args=[polled["acme"].pk])).content.decode()
    assert "token rejected" in html


def test_the_organisation_and_integration_pages(viewer_client, polled):
    organisation = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    html = viewer_client.get(reverse("organisation-detail", args=[organisation.pk])).content.decode()
    assert "Acme Orders API" in html and "mrch_acme_us" in html and "Northwind" in html
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    html = viewer_client.get(reverse("integration-detail", args=[integration.pk])).content.decode()
    assert demo.ACME_ORDERS in html and "CUSTOM_ORDERS" in html


def test_viewers_see_no_management_buttons(viewer_client, polled):
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    html = viewer_client.get(reverse("integration-detail", args=[integration.pk])).content.decode()
    assert "Rename" not in html and "Disable" not in html
    html = viewer_client.get(reverse("site-detail", args=[polled["acme"].pk])).content.decode()
    assert "Poll now" not in html and "Test connection" not in html
    assert "Credentials" not in viewer_client.get(reverse("overview")).content.decode()


def test_staff_see_the_management_buttons(client, polled):
    client.force_login(factories.staff())
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    html = client.get(reverse("integration-detail", args=[integration.pk])).content.decode()
    assert "Rename" in html and "Disable" in html


def test_the_alerts_page_lists_and_filters(viewer_client, polled):
    from integrations_app.alerts.delivery import send_pending_alerts

    send_pending_alerts(wait=False)
    response = viewer_client.get(reverse("alerts") + "?status=sent")
    assert [alert.subject for alert in response.context["page"]] == ["[Paystatus] Stripe disconnected on Acme Store"]
    assert list(viewer_client.get(reverse("alerts") + "?status=failed").context["page"]) == []
    assert Alert.objects.count() == 1


def test_status_json_has_the_overview_numbers(viewer_client, polled, client, settings):
    body = json.loads(viewer_client.get(reverse("status-json")).content)
    assert (body["sites"], body["sites_by_problem"]["disconnected"]) == (2, 1)
    client.logout()
    assert client.get(reverse("status-json")).status_code == 401
    settings.STATUS_API_TOKEN = "read-token-123456"
    response = client.get(reverse("status-json"), HTTP_AUTHORIZATION="Bearer read-token-123456")
    assert response.status_code == 200
    assert client.get(reverse("status-json"), HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


def test_healthz_needs_no_login_and_reports_the_watcher(client, polled, redis_clean):
    body = json.loads(client.get(reverse("healthz")).content)
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["newest_successful_poll_age_seconds"] < 60
    assert body["unsent_changes"] == 1
    assert "token" not in json.dumps(body).lower()


def many_sites(count: int) -> None:
    account = factories.account()
    start = DataFastSite.objects.count()
    sites = DataFastSite.objects.bulk_create(
        DataFastSite(account=account, name=f"Shop {n:04}", website_id=f"{n:024x}") for n in range(start, start + count)
    )
    ProviderState.objects.bulk_create(
        ProviderState(site=site, provider=provider, connected=provider == "stripe")
        for site in sites
        for provider in ("stripe", "paddle", "polar", "shopify", "lemonsqueezy", "woocommerce")
    )
    organisations = Organisation.objects.bulk_create(
        Organisation(organisation_id=f"org_{start + n}", label=f"Org {start + n}") for n in range(count // 10)
    )
    Integration.objects.bulk_create(
        Integration(
            integration_id=f"int_{start + n}",
            organisation=organisations[n % len(organisations)],
            name="x",
            type="CUSTOM_ORDERS",
            status="ENABLED",
        )
        for n in range(count // 2)
    )


def query_counts(client) -> dict[str, int]:
    # The same rows in both runs (`first()` by name is arbitrary where names repeat, as on PostgreSQL).
    site = present(DataFastSite.objects.order_by("pk").first())
    organisation = present(Organisation.objects.order_by("pk").first())
    integration = present(Integration.objects.order_by("pk").first())
    urls = [
        reverse("overview"),
        reverse("overview") + "?problem=disconnected&provider=stripe&q=shop",
        reverse("overview") + "?fragment=live",
        reverse("site-detail", args=[site.pk]),
        reverse("organisation-detail", args=[organisation.pk]),
        reverse("integration-detail", args=[integration.pk]),
        reverse("alerts"),
        reverse("audit"),
        reverse("status-json"),
    ]
    counts = {}
    for url in urls:
        cache.delete(WATCHER_CACHE_KEY)  # each page measured with the watcher's banner computed
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts[url] = len(queries)
    return counts


def test_pages_do_a_constant_number_of_queries(viewer_client):
    many_sites(100)
    small = query_counts(viewer_client)
    many_sites(300)  # 400 in all
    large = query_counts(viewer_client)
    assert large == small
    # The overview: 1 for the summary's numbers (views/summary.py: problems per kind and integrations
    # by status in one statement, which the two pagers reuse unless a search narrows the rows),
    # 4 watcher aggregates for the banner, the two tables, 2 for the 24 h strips (poll attempts per
    # hour, problem changes of the window), and 1 for the user's project memberships (scoping: a
    # user who is not staff may be a member).
    assert small[reverse("overview")] == 17, small
    assert small[reverse("status-json")] == 11, small
    assert max(small.values()) <= 19, small


def test_a_deactivated_account_reads_nothing(stranger_client, polled):
    response = stranger_client.get(reverse("overview"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
