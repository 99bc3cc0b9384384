"""The daily discovery and its notices: new websites on a token, websites no longer listed, each
handled with one click; never an alert unless asked for. Real HTTP against the sandbox."""

from __future__ import annotations

import html
import io
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app import tasks
from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.chargebackstop import discovery as chargebackstop_discovery
from integrations_app.chargebackstop.models import KeyLevel, PartnerAccess
from integrations_app.config import yamlio
from integrations_app.config.service import export_document, import_config
from integrations_app.datafast import discovery
from integrations_app.datafast.models import DataFastAccount, DataFastSite, WatchedWebsites
from integrations_app.models import Alert, AuditEntry, Organisation, StatusChange
from integrations_app.scoping import EVERYTHING
from integrations_app.views import overview as overview_page
from tests import demo, factories
from tests.config.test_import_report import NEW_SITE
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


def website(number: int) -> str:
    return f"{number:024x}"


def listing_of(account: DataFastAccount, numbers: range) -> None:
    """What a discovery stores, as its save does (the listing's fields only)."""
    account.set_listing([{"id": website(number), "name": f"Site {number}"} for number in numbers])
    account.save(update_fields=["listed_websites", "listed_website_ids"])


def counted_from_scratch() -> dict[str, int]:
    watched = set(DataFastSite.objects.values_list("website_id", flat=True))
    return {
        account.name: sum(
            1 for listed in account.listed_website_ids if listed not in watched | set(account.ignored_website_ids)
        )
        for account in DataFastAccount.objects.all()
    }


def shown() -> dict[str, int]:
    noticed = {notice.account.name: notice.new for notice in discovery.with_notices(DataFastAccount.objects.all())}
    return {name: noticed.get(name, 0) for name in DataFastAccount.objects.values_list("name", flat=True)}


@pytest.mark.django_db(transaction=True)
def test_the_kept_counts_of_new_websites_follow_every_change_to_what_they_count(staff_client):
    """The overview reads each account's kept count instead of every listed and watched ID: every
    way a listing, a set-aside website or a watched website changes takes the count again,
    including a website of another account that both tokens list."""
    first, second = factories.account(name="First"), factories.account(name="Second")
    listing_of(first, range(6))
    listing_of(second, range(4, 10))  # websites 4 and 5 on both tokens

    def agree(step: str) -> None:
        assert shown() == counted_from_scratch(), step
        assert shown() == counted_from_scratch(), f"{step}, read again from the kept counts"

    agree("listed")
    factories.site(website(0), account=first)
    agree("a website watched")
    site = factories.site(website(4), name="Both", account=first)
    agree("a website both tokens list, watched by one")
    site.website_id = website(8)
    site.save()
    agree("its ID changed")
    staff_client.post(reverse("site-delete", args=[site.pk]))
    assert not DataFastSite.objects.filter(pk=site.pk).exists()
    agree("deleted on its page")
    discovery.watch(first, [website(1)])
    agree("watched from the account's page, the others set aside")
    discovery.set_aside_new(second)
    agree("the new ones set aside")
    listing_of(second, range(4, 12))
    agree("a new listing")
    document = export_document(EVERYTHING)
    document["websites"].append({**NEW_SITE, "website_id": website(11), "account": "Second", "project": None})
    assert import_config(yamlio.dump(document)).applied
    agree("imported from a configuration file")
    factories.site(website(5), name="Five", account=first)
    first.delete()
    agree("an account deleted with its websites, one of them listed by the other token")
    with transaction.atomic():
        factories.site(website(6), name="Six", account=second)
        with pytest.raises(RuntimeError), transaction.atomic():
            factories.site(website(7), name="Seven", account=second)
            raise RuntimeError("rolled back")
        factories.site(website(9), name="Nine", account=second)
        agree("within a transaction, after a savepoint rolled back")
    agree("committed")


@pytest.mark.django_db(transaction=True)
def test_an_overview_reads_the_kept_counts_and_not_the_listings_once_counted(admin_client):
    account = factories.account(name="Big token")
    listing_of(account, range(50_000))
    factories.site(website(0), account=account)
    assert "49,999 new websites" in notices_on(admin_client)[0] or "49999" in notices_on(admin_client)[0]
    with CaptureQueriesContext(connection) as captured:
        assert "49,999" in notices_on(admin_client)[0] or "49999" in notices_on(admin_client)[0]
    assert not [query for query in captured if '"listed_website_ids"' in query["sql"]]
    assert not [query for query in captured if 'SELECT "integrations_app_datafastsite"."website_id"' in query["sql"]]


@pytest.mark.django_db(transaction=True)
def test_a_count_taken_while_a_website_was_watched_is_not_kept():
    """A count taken from what another transaction then changed is shown once, and not kept: the
    version it was read with has moved on."""
    account = factories.account(name="Acme")
    listing_of(account, range(3))
    (row,) = discovery._read(DataFastAccount.objects.all())
    factories.site(website(0), account=account)  # between the reading and the keeping
    assert discovery._count_new([row]) == {account.pk: 2}
    (row,) = discovery._read(DataFastAccount.objects.all())
    assert not row.counted  # counted again on the next page
    assert shown()["Acme"] == 2
    (row,) = discovery._read(DataFastAccount.objects.all())
    assert row.counted and row.new_websites == 2


@pytest.mark.django_db(transaction=True)
def test_deleting_an_account_of_many_websites_takes_the_counts_again_once():
    account = factories.account(name="Acme")
    DataFastSite.objects.bulk_create(
        DataFastSite(account=account, name=f"Site {number}", website_id=website(number)) for number in range(300)
    )
    other = factories.account(name="Other")
    listing_of(other, range(3))
    assert shown()["Other"] == 0
    WatchedWebsites.objects.get_or_create(pk=WatchedWebsites.ROW)  # the migration's, gone with a flush
    with CaptureQueriesContext(connection) as captured:
        account.delete()
    bumps = [query for query in captured if '"version" = (' in query["sql"]]
    assert len(bumps) == 1, bumps
    assert not [query for query in captured if '"notices_version"' in query["sql"]]  # no account's row
    assert shown() == counted_from_scratch() == {"Other": 3}


def test_the_overview_shows_a_few_notices_and_leaves_the_rest_to_the_credentials_page(staff_client):
    """200 tokens after their first discovery were 200 notices above the statuses (and most of the
    overview's time): the overview shows the first ones and says how many more there are."""
    shown_here = overview_page.NOTICES_SHOWN
    for number in range(shown_here + 2):
        listing_of(factories.account(name=f"Token {number:02}"), range(number * 10, number * 10 + 3))
    assert len(notices_on(staff_client)) == shown_here
    page = html.unescape(staff_client.get(reverse("overview")).content.decode())
    assert "2 more accounts have a notice." in page
    assert f'href="{reverse("credentials")}#notices-heading"' in page
    assert len(notices_on(staff_client, reverse("credentials"))) == shown_here + 2
    assert "more accounts" not in staff_client.get(reverse("credentials")).content.decode()


def test_an_account_saved_with_its_key_given_or_its_fields_as_a_generator_still_saves():
    """The version's bump is an UPDATE's expression: never in an INSERT (a new account with its
    key given), and a generator of field names is read once for the bump and once for the save."""
    account = DataFastAccount(pk=4242, name="Given key")
    account.set_secret(demo.DATAFAST_TOKEN.reveal())
    account.save()
    account.refresh_from_db()
    assert account.notices_version == 0
    account.ignored_website_ids = [website(1)]
    account.save(update_fields=(name for name in ["ignored_website_ids"]))
    account.refresh_from_db()
    assert (account.ignored_website_ids, account.notices_version) == ([website(1)], 1)


@pytest.mark.django_db(transaction=True)
def test_counts_kept_before_the_version_row_was_lost_are_taken_again():
    """Without its row the version is unknown: nothing reads as counted, nothing is kept; the row
    made again starts past every version a count was kept at, so none of those reads as current."""
    account = factories.account(name="Acme")
    listing_of(account, range(3))
    factories.site(website(0), account=account)
    assert shown()["Acme"] == 2
    assert discovery._read(DataFastAccount.objects.all())[0].counted
    WatchedWebsites.objects.all().delete()
    assert shown()["Acme"] == 2
    assert not discovery._read(DataFastAccount.objects.all())[0].counted
    DataFastSite.objects.get(website_id=website(0)).delete()  # makes the row again
    assert shown() == counted_from_scratch() == {"Acme": 3}
