"""Discovering a DataFast token's websites over real HTTP against the sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations_app.datafast import discovery
from integrations_app.datafast.client import DataFastClient
from integrations_app.datafast.models import DataFastSite, Discovery
from integrations_app.models import Health
from integrations_app.upstream.errors import CredentialError
from tests import demo, factories

pytestmark = pytest.mark.django_db
ACME_OUTLET, ACME_LABS = "6650a1f2c4e8b90012ab340d", "6650a1f2c4e8b90012ab340e"
FJORD = "6650a1f2c4e8b90012ab3406"


def test_the_client_lists_the_tokens_websites_with_name_domain_timezone_and_role(sandbox):
    listing = DataFastClient(demo.DATAFAST_TOKEN).list_websites()
    by_id = {website.id: website for website in listing.websites}
    assert len(by_id) == 9  # seven registered by the demo, two only discovery finds
    assert by_id[ACME_OUTLET].name == "Acme Outlet"
    assert by_id[ACME_OUTLET].domain == "outlet.acme-store.example"
    assert by_id[ACME_OUTLET].timezone == "America/New_York"
    assert by_id[ACME_OUTLET].role == "member"
    assert by_id[ACME_LABS].name is None and by_id[ACME_LABS].display_name == "labs.acme-store.example"
    assert by_id[demo.ACME_STORE].role == "owner"
    assert listing.problems == ()


def test_a_token_without_websites_read_gets_403_from_the_client(sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    with pytest.raises(CredentialError) as raised:
        DataFastClient(demo.DATAFAST_TOKEN).list_websites()
    assert raised.value.status == 403


def test_a_bad_entry_is_named_and_skipped_not_the_whole_listing(sandbox):
    sandbox.state.add_website("aaaaaaaaaaaaaaaaaaaaaaaa", tokens=[demo.DATAFAST_TOKEN.reveal()], name="Fine")
    fine = {"_id": "aaaaaaaaaaaaaaaaaaaaaaaa", "domain": "fine.example", "name": "Fine", "trackingId": "dfid_1"}
    fine |= {"timezone": "UTC", "currency": "USD", "role": "owner"}
    body = {"status": "success", "data": [{"_id": "nope"}, fine, {**fine, "_id": "b" * 24, "role": "boss"}]}
    sandbox.state.faults.add("/api/v1/admin/websites", "status", status=200, body=body)
    listing = DataFastClient(demo.DATAFAST_TOKEN).list_websites()
    assert [website.id for website in listing.websites] == ["aaaaaaaaaaaaaaaaaaaaaaaa"]
    assert "2 skipped: entry 1" in listing.problems[0] and "'role'" in listing.problems[0]


def test_discovery_names_watched_sites_and_flags_new_ones(sandbox):
    account = factories.account()
    site = factories.site(demo.ACME_STORE, name="acme typed by hand")
    custom = factories.site(FJORD, name="Our Fjord", name_is_custom=True)
    outcome = discovery.discover(account)
    assert outcome.ok, outcome.message
    site.refresh_from_db()
    custom.refresh_from_db()
    assert (site.name, site.domain, site.role, site.timezone) == ("Acme Store", "acme-store.example", "owner", "UTC")
    assert (custom.name, custom.role) == ("Our Fjord", "member")  # renamed by the operator: kept
    assert {website.id for website in outcome.new} >= {ACME_OUTLET, ACME_LABS}
    assert demo.ACME_STORE not in {website.id for website in outcome.new}
    account.refresh_from_db()
    assert account.discovery == Discovery.OK and "9 websites" in account.discovery_message


def test_a_website_no_longer_listed_is_shown_not_deleted(sandbox):
    account = factories.account()
    site = factories.site(demo.ACME_STORE)
    sandbox.state.remove_website(demo.ACME_STORE)
    outcome = discovery.discover(account)
    assert [row.pk for row in outcome.unlisted] == [site.pk]
    assert DataFastSite.objects.get(pk=site.pk).unlisted_since is not None
    sandbox.state.reset("demo")
    discovery.discover(account)
    assert DataFastSite.objects.get(pk=site.pk).unlisted_since is None


def test_no_websites_read_is_a_plain_words_state_never_a_poll_failure(sandbox):
    account = factories.account()
    site = factories.site(demo.ACME_STORE)
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    outcome = discovery.discover(account)
    assert outcome.state == Discovery.NO_PERMISSION
    assert "websites:read" in outcome.message and "typing their IDs" in outcome.message
    site.refresh_from_db()
    assert site.health == Health.PENDING and site.last_error_kind == "" and site.failing_since is None
    account.refresh_from_db()
    assert account.discovery == Discovery.NO_PERMISSION


def test_a_revoked_token_and_a_dead_api_are_remembered_without_raising(sandbox, settings):
    account = factories.account()
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    assert discovery.discover(account).state == Discovery.REFUSED
    settings.DATAFAST_BASE_URL = "http://127.0.0.1:9"
    outcome = discovery.discover(account)
    assert outcome.state == Discovery.FAILED and "did not answer" in outcome.message


def test_watching_creates_due_sites_and_sets_the_rest_aside(sandbox):
    account = factories.account()
    discovery.discover(account)
    created = discovery.watch(account, [ACME_OUTLET, demo.ACME_STORE])
    assert {site.website_id for site in created} == {ACME_OUTLET, demo.ACME_STORE}
    outlet = DataFastSite.objects.get(website_id=ACME_OUTLET)
    assert outlet.name == "Acme Outlet" and outlet.next_poll_at <= timezone.now() + timedelta(seconds=1)
    account.refresh_from_db()
    assert ACME_LABS in account.ignored_website_ids
    assert discovery.summarise(account).new == []  # nothing flagged: chosen or set aside
    assert discovery.watch(account, [ACME_OUTLET]) == []  # idempotent


def test_notices_take_two_queries_once_counted_whatever_the_number_of_accounts(
    sandbox, django_assert_num_queries, django_assert_max_num_queries
):
    first = factories.account()
    discovery.discover(first)
    second = factories.account(demo.OTHER_DATAFAST_TOKEN, name="Harbor")
    discovery.discover(second)
    # Counting: the listings, the watched IDs and keeping the counts (in a savepoint of its own).
    with django_assert_max_num_queries(7):
        counting = discovery.with_notices(type(first).objects.all())
    with django_assert_num_queries(2):
        notices = discovery.with_notices(type(first).objects.all())
    assert [(account.name, new) for account, new, _ in notices] == [("Acme Holdings", 9), ("Harbor", 6)]
    assert [(account.name, new) for account, new, _ in counting] == [("Acme Holdings", 9), ("Harbor", 6)]


def test_an_incomplete_listing_never_marks_a_watched_website_unlisted(sandbox):
    """A listing with a skipped entry (or cut at DATAFAST_MAX_WEBSITES) does not say a website is
    gone: the missing one may be the unreadable entry. Only a complete listing marks it unlisted."""
    account = factories.account()
    site = factories.site(demo.ACME_STORE)
    unreadable = {"_id": demo.ACME_STORE, "domain": "acme-store.example", "name": "Acme\x07", "role": "owner"}
    body = {"status": "success", "data": [unreadable]}
    sandbox.state.faults.add("/api/v1/admin/websites", "status", status=200, body=body)
    outcome = discovery.discover(account)
    assert outcome.ok and "1 skipped" in outcome.message
    assert outcome.unlisted == []
    assert DataFastSite.objects.get(pk=site.pk).unlisted_since is None
