"""A member's Alerts page: an alert that also covers another project's sources is shown, with only
the member's own changes (its subject, count and link made of them), never the other project's."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, DataFastSite, Membership
from integrations_app.views.context import WATCHER_CACHE_KEY
from tests import demo, factories
from tests.factories import present

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def one_alert_for_two_projects(sandbox, mailoutbox) -> dict[str, DataFastSite]:
    """Acme Store (Client A) and Bluebird Books (Client B) disconnect in one cycle: one alert."""
    acme = factories.site(project=factories.project("Client A"))
    bluebird = factories.site(
        website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books", project=factories.project("Client B")
    )
    for site in (acme, bluebird):
        poll_site(site.pk)
        sandbox.state.set_connected(site.website_id, "stripe", False)
    for site in (acme, bluebird):
        poll_site(site.pk)
    send_pending_alerts(wait=False)
    assert Alert.objects.get().subject == "[Paystatus] 2 changes: 2 problems"
    return {"acme": acme, "bluebird": bluebird}


def member_of(site: DataFastSite) -> Client:
    member = factories.viewer(f"member-{site.pk}")
    Membership.objects.create(project=present(site.project), user=member)
    client = Client()
    client.force_login(member)
    return client


def rows(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


def test_a_member_sees_the_shared_alert_with_only_their_change(one_alert_for_two_projects):
    acme, bluebird = one_alert_for_two_projects["acme"], one_alert_for_two_projects["bluebird"]
    page = rows(member_of(acme).get(reverse("alerts")).content.decode())
    assert "No alert yet." not in page
    assert f'<a href="/sites/{acme.pk}/"><bdi>[Paystatus] Stripe disconnected on Acme Store</bdi></a>' in page
    assert "<td>1</td>" in page, "one change: theirs"
    assert "Bluebird" not in page and "2 changes" not in page and f"/sites/{bluebird.pk}/" not in page
    other = rows(member_of(bluebird).get(reverse("alerts")).content.decode())
    assert "[Paystatus] Stripe disconnected on Bluebird Books" in other and "Acme" not in other


def test_a_members_search_finds_the_shared_alert_by_their_own_words_only(one_alert_for_two_projects):
    client = member_of(one_alert_for_two_projects["acme"])
    for found in ("Acme", "stripe"):
        assert "Stripe disconnected on Acme Store" in rows(client.get(reverse("alerts"), {"q": found}).content.decode())
    for not_found in ("Bluebird", "2 changes"):
        assert "No alert yet." in rows(client.get(reverse("alerts"), {"q": not_found}).content.decode())


def test_staff_see_the_alert_as_it_was_sent(one_alert_for_two_projects, staff_client):
    page = rows(staff_client.get(reverse("alerts")).content.decode())
    assert "[Paystatus] 2 changes: 2 problems" in page and "<td>2</td>" in page


def test_a_members_alerts_page_costs_the_same_queries_for_1_and_5_shared_alerts(one_alert_for_two_projects):
    acme, bluebird = one_alert_for_two_projects["acme"], one_alert_for_two_projects["bluebird"]
    client = member_of(acme)

    def queries() -> int:
        cache.delete(WATCHER_CACHE_KEY)  # each page measured with the watcher's banner computed
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("alerts")).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(4):  # four more alerts, each about both projects' websites
        factories.disconnections([acme, bluebird], provider="paddle")
        send_pending_alerts(wait=False)
    assert Alert.objects.count() == 5
    assert queries() == few
