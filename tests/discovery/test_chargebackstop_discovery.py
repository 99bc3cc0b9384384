"""Discovering a ChargebackStop key's organisations and merchants over real HTTP."""

from __future__ import annotations

import pytest

from integrations_app.chargebackstop import discovery
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.chargebackstop.models import KeyOrganisation, Merchant, Organisation, PartnerAccess
from integrations_app.models import Alert, Health, StatusChange
from integrations_app.upstream.errors import CredentialError
from integrations_app.upstream.secret import Secret
from tests import demo, factories
from tests.sandbox.test_chargebackstop_partner import TEST_SCENARIO

pytestmark = pytest.mark.django_db
NO_INTEGRATION = ["org_dunmore_travel", "org_elm_street_pets"]


def test_the_client_pages_organisations_by_the_items_actually_received(sandbox):
    sandbox.state.max_page_size = 2  # the server sends fewer than asked
    listing = ChargebackStopClient(demo.PARTNER_KEY).list_organisations(page_size=3)
    assert listing.complete and listing.count == 5 and listing.pages == 3
    assert [org.id for org in listing.items][:2] == [demo.ACME_ORG, demo.BLUEBIRD_ORG]
    assert {org.mode for org in listing.items} == {"LIVE"}


def test_a_page_cap_gives_an_incomplete_listing_that_says_why(sandbox):
    sandbox.state.max_page_size = 1
    listing = ChargebackStopClient(demo.PARTNER_KEY).list_organisations(page_size=1, max_pages=2)
    assert not listing.complete and len(listing.items) == 2
    assert "stopped after 2 pages" in listing.note and "2 of 5 organisations" in listing.note


def test_merchants_are_filtered_by_organisation(sandbox):
    listing = ChargebackStopClient(demo.PARTNER_KEY).list_merchants(organisation_id=demo.ACME_ORG)
    assert {(m.id, m.name, m.type) for m in listing.items} == {
        ("mrch_acme_us", "Acme US", "STRIPE"),
        ("mrch_acme_eu", "Acme Europe", "ADYEN"),
        ("mrch_acme_uk", "Acme UK", "GENERIC"),
    }


def test_an_organisation_key_gets_401_on_the_partner_endpoints(sandbox):
    with pytest.raises(CredentialError) as raised:
        ChargebackStopClient(demo.ORGANISATION_KEY).list_organisations()
    assert raised.value.status == 401


def test_discovery_creates_every_organisation_by_name_with_those_without_integrations(sandbox):
    key = factories.key()
    outcome = discovery.discover(key)
    assert outcome.ok and outcome.organisations == 5 and outcome.new == 5 and outcome.merchants == 11
    names = dict(Organisation.objects.values_list("organisation_id", "name"))
    assert names["org_dunmore_travel"] == "Dunmore Travel" and set(NO_INTEGRATION) <= set(names)
    links = KeyOrganisation.objects.filter(key=key, organisation__organisation_id__in=NO_INTEGRATION)
    assert {link.source for link in links} == {KeyOrganisation.Source.LISTED}
    assert Merchant.objects.get(merchant_id="mrch_cedar_03").name == "Cedar Bookings"
    assert discovery.discover(key).new == 0  # idempotent


def test_test_mode_is_kept(sandbox):
    sandbox.state.reset(TEST_SCENARIO)
    discovery.discover(factories.key(Secret("test_partner")))
    organisation = Organisation.objects.get(organisation_id="org_t1")
    assert organisation.mode == "TEST" and organisation.is_test and organisation.name == "[TEST] Sandbox shop"


def test_an_organisation_key_is_refused_once_remembered_and_never_alerted(sandbox):
    key = factories.key(demo.ORGANISATION_KEY, name="Acme org key", level="organisation")
    sandbox.state.reset_stats()
    outcome = discovery.discover(key)
    assert outcome.access == PartnerAccess.REFUSED and "401" in outcome.message
    asked = sandbox.state.stats()["chargebackstop"]["requests"]
    assert asked == 1
    key.refresh_from_db()
    assert key.partner_access == PartnerAccess.REFUSED
    assert discovery.discover(key).access == PartnerAccess.REFUSED
    assert sandbox.state.stats()["chargebackstop"]["requests"] == asked  # not asked again
    assert key.health == Health.PENDING and not StatusChange.objects.exists() and not Alert.objects.exists()


def test_a_new_secret_asks_again(sandbox):
    key = factories.key(demo.ORGANISATION_KEY, name="Acme org key", level="organisation")
    discovery.discover(key)
    key.set_secret(demo.PARTNER_KEY.reveal())
    key.level = "partner"
    key.forget_partner_access()
    key.save()
    assert discovery.discover(key).ok


def test_a_rate_limited_discovery_is_no_answer_about_the_key(sandbox, settings):
    settings.UPSTREAM_RETRIES = 0
    key = factories.key()
    sandbox.state.faults.add("/v1/organisations", "status", status=429, retry_after=1)
    outcome = discovery.discover(key)
    assert outcome.access == PartnerAccess.UNKNOWN and "rate limited" in outcome.message
    key.refresh_from_db()
    assert key.health == Health.PENDING and key.last_error_kind == ""


def test_merchants_of_an_organisation_are_refreshed_on_demand(sandbox):
    key = factories.key()
    discovery.discover(key)
    merchants = discovery.merchants_of(key, demo.BLUEBIRD_ORG)
    assert merchants is not None and {m.id for m in merchants} == {"mrch_bluebird_main", "mrch_bluebird_shop"}
