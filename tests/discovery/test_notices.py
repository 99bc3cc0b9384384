"""The daily discovery and its notices: new websites on a token, websites no longer listed, each
handled with one click; never an alert unless asked for. Real HTTP against the sandbox."""

from __future__ import annotations

import html
import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app import tasks
from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.chargebackstop import discovery as chargebackstop_discovery
from integrations_app.chargebackstop.models import KeyLevel, PartnerAccess
from integrations_app.datafast import discovery
from integrations_app.datafast.models import DataFastAccount, DataFastSite
from integrations_app.models import Alert, AuditEntry, Organisation, StatusChange
from tests import demo, factories
from tests.discovery.test_chargebackstop_discovery import NO_INTEGRATION
from tests.ports import free_port

pytestmark = pytest.mark.django_db
ACME_OUTLET = "6650a1f2c4e8b90012ab340d"


def notices_on(client, url: str = "") -> list[str]:
    page = html.unescape(client.get(url or reverse("overview")).content.decode())
    return [part.split("<a ")[0].strip() for part in page.split('data-notice-of="')[1:]]


def notice(client, account: DataFastAccount, do: str, back: str = "") -> str:
    response = client.post(
        reverse("account-notice", args=[account.pk]), {"do": do, "next": back or reverse("overview")}, follow=True
    )
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_the_daily_discovery_is_a_beat_entry_that_asks_each_account_and_key_once_a_day(sandbox):
    entry = settings.CELERY_BEAT_SCHEDULE["discover-due"]
    assert entry["task"] == "integrations_app.tasks.discover_due"
    account = factories.account()
    partner = factories.key()
    now = timezone.now()
    assert list(discovery.due(now)) == [account]  # never listed
    assert list(chargebackstop_discovery.due(now)) == [partner]
    assert tasks.discover_account(account.pk) == "ok"
    assert tasks.discover_key(partner.pk) == PartnerAccess.OK
    assert not discovery.due(now + timedelta(hours=23)).exists()
    assert not chargebackstop_discovery.due(now + timedelta(hours=23)).exists()
    assert list(discovery.due(now + timedelta(hours=25))) == [account]
    assert list(chargebackstop_discovery.due(now + timedelta(hours=25))) == [partner]
    assert tasks.discover_account(10**6) == "not due"
    assert tasks.discover_account(account.pk) == "not due"  # a copy enqueued meanwhile: no request
    assert tasks.discover_key(partner.pk) == "not due"


def test_an_organisation_key_refused_once_is_never_due_again(sandbox):
    key = factories.key(demo.ORGANISATION_KEY, name="Acme", level=KeyLevel.ORGANISATION)  # 401 there
    assert tasks.discover_key(key.pk) == PartnerAccess.REFUSED
    assert not chargebackstop_discovery.due(timezone.now() + timedelta(days=30)).exists()


def test_new_websites_are_a_notice_on_the_overview_and_watching_them_is_one_click(staff_client, sandbox):
    account = factories.account(name="Acme")
    factories.site(demo.ACME_STORE, account=account)
    discovery.discover(account)
    words = notices_on(staff_client)
    assert len(words) == 1 and "8 new websites on Acme's token: watch them?" in words[0]
    assert "8 new websites on Acme's token" in notices_on(staff_client, reverse("credentials"))[0]
    page = notice(staff_client, account, "watch")
    assert "Now watching 8 more websites" in page
    assert DataFastSite.objects.filter(account=account).count() == 9
    assert DataFastSite.objects.get(website_id=ACME_OUTLET).next_poll_at <= timezone.now()
    assert AuditEntry.objects.filter(action="credentials.site.create").count() == 8
    assert notices_on(staff_client) == []  # handled: gone


def test_setting_new_websites_aside_ends_the_notice_and_keeps_them_offered(staff_client, sandbox):
    account = factories.account(name="Acme")
    discovery.discover(account)
    assert "Set aside 9 new websites of Acme" in notice(staff_client, account, "set_aside")
    assert notices_on(staff_client) == [] and not DataFastSite.objects.exists()
    page = staff_client.get(reverse("account-edit", args=[account.pk])).content.decode()
    assert page.count("(set aside earlier)") == 9
    assert AuditEntry.objects.filter(action="discovery.set_aside", target="account Acme").exists()


def test_a_website_no_longer_listed_is_a_notice_until_kept_and_its_page_says_so(staff_client, sandbox):
    account = factories.account(name="Acme")
    site = factories.site(demo.ACME_STORE, account=account)
    discovery.discover(account)
    notice(staff_client, account, "set_aside")
    sandbox.state.remove_website(demo.ACME_STORE)
    discovery.discover(account)
    words = notices_on(staff_client)
    assert len(words) == 1 and "1 website is no longer listed by Acme's token." in words[0]
    notice(staff_client, account, "keep")
    assert notices_on(staff_client) == []
    assert DataFastSite.objects.filter(pk=site.pk).exists()  # shown, never deleted
    assert "No longer listed by the token of Acme since" in staff_client.get(site.get_absolute_url()).content.decode()
    assert ">no longer listed</span>" in staff_client.get(reverse("overview")).content.decode()


def test_a_viewer_sees_no_notice_and_a_bad_action_is_named(staff_client, viewer_client, sandbox):
    account = factories.account(name="Acme")
    discovery.discover(account)
    assert notices_on(viewer_client) == []
    page = notice(staff_client, account, "explode")
    assert "“explode” is not something a notice does" in page
    assert not DataFastSite.objects.exists()


def test_notices_are_never_alerts_by_default(sandbox):
    account = factories.account()
    factories.site(demo.ACME_STORE)
    discovery.discover(account)
    sandbox.state.remove_website(demo.ACME_STORE)
    discovery.discover(account)
    assert DataFastSite.objects.get(website_id=demo.ACME_STORE).unlisted_since is not None
    assert not StatusChange.objects.exists() and not Alert.objects.exists()


def test_the_overview_takes_the_same_queries_with_one_or_three_notices(
    staff_client, sandbox, django_assert_max_num_queries
):
    discovery.discover(factories.account())
    with django_assert_max_num_queries(40) as few:
        staff_client.get(reverse("overview"))
    discovery.discover(factories.account(demo.OTHER_DATAFAST_TOKEN, name="Harbor"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(notices_on(staff_client)) == 2


def test_a_website_renamed_by_the_operator_keeps_its_name_and_shows_timezone_and_role(staff_client, sandbox):
    account = factories.account(name="Acme")
    discovery.discover(account)
    (site,) = discovery.watch(account, [ACME_OUTLET])
    form = {"account": account.pk, "website_id": ACME_OUTLET, "enabled": "on", "poll_interval_seconds": 300}
    staff_client.post(reverse("site-edit", args=[site.pk]), {**form, "name": "Outlet (ours)"})
    discovery.discover(account)
    site.refresh_from_db()
    assert (site.name, site.name_is_custom) == ("Outlet (ours)", True)
    page = staff_client.get(site.get_absolute_url()).content.decode()
    assert "DataFast timezone" in page and "America/New_York" in page and "member" in page
    staff_client.post(reverse("site-edit", args=[site.pk]), {**form, "name": "Acme Outlet"})
    site.refresh_from_db()
    assert not site.name_is_custom  # back to DataFast's name: follows it again


def test_a_discovery_that_got_no_answer_is_tried_again_within_the_quarter_hour(sandbox, settings):
    """`make run` loads the demo before the sandbox answers: the first discovery fails, and beat's
    next look a quarter of an hour later asks again rather than a day later."""
    settings.DATAFAST_BASE_URL = settings.CHARGEBACKSTOP_BASE_URL = f"http://127.0.0.1:{free_port()}"
    account, key = factories.account(), factories.key()
    assert tasks.discover_account(account.pk) == "failed"
    tasks.discover_key(key.pk)
    now = timezone.now()
    assert not discovery.due(now).exists() and not chargebackstop_discovery.due(now).exists()
    later = now + timedelta(minutes=settings.DISCOVERY_RETRY_MINUTES + 1)
    assert list(discovery.due(later)) == [account]
    assert list(chargebackstop_discovery.due(later)) == [key]


def test_the_demo_leaves_organisations_without_integrations_and_extra_websites_to_discovery(sandbox):
    call_command("load_demo", stdout=io.StringIO())
    assert not Organisation.objects.filter(organisation_id__in=NO_INTEGRATION).exists()
    assert not DataFastSite.objects.filter(website_id=ACME_OUTLET).exists()
    for pk in discovery.due(timezone.now()).values_list("pk", flat=True):
        tasks.discover_account(pk)
    for pk in chargebackstop_discovery.due(timezone.now()).values_list("pk", flat=True):
        tasks.discover_key(pk)
    names = set(Organisation.objects.filter(organisation_id__in=NO_INTEGRATION).values_list("name", flat=True))
    assert names == {"Dunmore Travel", "Elm Street Pets"}
    notices = discovery.with_notices(DataFastAccount.objects.all())
    assert [(notice.account.name, notice.new) for notice in notices] == [
        ("Acme Holdings (DataFast)", 2),
        ("Harbor Agency clients (DataFast)", 1),
    ]


def test_an_account_that_asks_for_them_gets_an_alert_when_a_watched_website_is_unlisted(sandbox, smtp_sink):
    account = factories.account(name="Acme")
    account.alert_on_discovery = True
    account.save()
    factories.site(demo.ACME_STORE, account=account)
    discovery.discover(account)
    assert not StatusChange.objects.exists()  # listed as before: nothing to tell
    sandbox.state.remove_website(demo.ACME_STORE)
    discovery.discover(account)
    sandbox.state.reset("demo")
    discovery.discover(account)
    assert send_pending_alerts(wait=False).sent == 1
    (message,) = smtp_sink.messages
    body = message.get_body(preferencelist=("plain",)).get_content()
    assert "Acme Store is no longer listed by the token of Acme (still watched)" in body
    assert "Acme Store is listed by the token of Acme again" in body


def test_the_overview_counts_new_websites_at_the_scale_target(admin_client):
    """Issue 15's 50,000 websites, all listed by tokens: the notices read the watched IDs without
    naming every listed website, and count right."""
    first, second = factories.account(name="Big token"), factories.account(name="Other token")
    listed = [{"id": f"{index:024x}", "name": f"Site {index}"} for index in range(50_000)]
    first.set_listing(listed[:25_000])
    second.set_listing(listed[25_000:])
    first.discovered_at = second.discovered_at = timezone.now()
    DataFastAccount.objects.bulk_update([first, second], ["listed_websites", "listed_website_ids", "discovered_at"])
    factories.site(website_id=listed[0]["id"], account=first)
    factories.site(website_id=listed[30_000]["id"], account=second)
    with CaptureQueriesContext(connection) as captured:
        notices = [text for text in notices_on(admin_client) if "new" in text]
    assert len(notices) == 2, notices
    assert any("24,999" in text or "24999" in text for text in notices), notices
    # Not by naming them: `website_id IN (…50,000…)` took 0.5 s to run on PostgreSQL.
    assert max(len(query["sql"]) for query in captured) < 10_000
    # From the listings' IDs, not the listings: decoding those was most of the notices' time.
    assert not [query for query in captured if '"listed_websites"' in query["sql"]]


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's planner scans a table this small")
def test_the_notices_count_the_unlisted_websites_through_their_own_index():
    """Every overview counts the websites no longer listed, a few among thousands: through
    site_unlisted_idx, not by reading every website row (2.5 ms of the overview at 5,000), and unsorted."""
    account = factories.account()
    factories.site(account=account, unlisted_since=timezone.now())
    with CaptureQueriesContext(connection) as captured:
        (notice,) = discovery.with_notices(DataFastAccount.objects.all())
    assert notice.unlisted == 1
    (counting,) = [query["sql"] for query in captured if '"unlisted_since" IS NOT NULL' in query["sql"]]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {counting}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "site_unlisted_idx" in plan and "TEMP B-TREE" not in plan, plan
