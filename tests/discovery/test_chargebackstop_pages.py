"""ChargebackStop organisations and merchants by name on the pages, over real HTTP to the sandbox:
a partner key lists them when saved (those without integrations too), TEST ones carry a badge
wherever they appear, and an organisation key's 401 is a plain-words fallback, never an alert."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from integrations_app.chargebackstop import discovery
from integrations_app.chargebackstop.models import KeyLevel, Organisation, PartnerAccess
from integrations_app.models import Alert, AuditEntry, ChargebackStopKey, StatusChange
from integrations_app.upstream.secret import Secret
from tests import demo, factories
from tests.polling import poll_key
from tests.sandbox.test_chargebackstop_partner import TEST_SCENARIO

pytestmark = pytest.mark.django_db
TEST_BADGE = '<span class="badge text-bg-warning" title="A ChargebackStop organisation in TEST mode">TEST</span>'


def add_key(client, secret: str, level: str = KeyLevel.PARTNER, name: str = "Northwind") -> str:
    form = {"name": name, "level": level, "secret": secret, "enabled": "on", "poll_interval_seconds": 300}
    response = client.post(reverse("key-create"), form, follow=True)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def test_pasting_a_partner_key_lists_every_organisation_by_name_with_those_without_integrations(staff_client, sandbox):
    page = add_key(staff_client, demo.PARTNER_KEY.reveal())
    assert "Organisations: 5 organisations listed; 11 merchants." in page
    assert "5 new to the dashboard." in page
    assert "Organisations with integrations: Acme Retail Group, Bluebird Media, Cedar Hospitality." in page
    names = set(Organisation.objects.values_list("name", flat=True))
    assert {"Dunmore Travel", "Elm Street Pets"} <= names  # no integration: nobody typed them
    overview = staff_client.get(reverse("overview")).content.decode()
    assert "Dunmore Travel" in overview and "Elm Street Pets" in overview
    assert "org_dunmore_travel</option>" not in overview  # the filter names them too
    key = ChargebackStopKey.objects.get()
    assert key.partner_access == PartnerAccess.OK


def test_an_organisation_key_falls_back_to_typed_ids_in_words_and_is_never_asked_again(staff_client, sandbox):
    page = add_key(staff_client, demo.ORGANISATION_KEY.reveal(), KeyLevel.ORGANISATION, name="Acme")
    assert "partner keys). Its organisation is learnt from its integrations" in page
    key = ChargebackStopKey.objects.get()
    assert key.partner_access == PartnerAccess.REFUSED
    detail = staff_client.get(key.get_absolute_url()).content.decode()
    assert reverse("key-discover", args=[key.pk]) not in detail  # nothing to ask again
    assert poll_key(key.pk).ok  # the poll is not touched by it
    assert not Alert.objects.exists()
    assert not StatusChange.objects.exclude(kind="source_health").exists()


def test_listing_a_keys_organisations_again_on_demand(staff_client, sandbox):
    key = factories.key()
    response = staff_client.post(reverse("key-discover", args=[key.pk]), follow=True)
    assert "Organisations: 5 organisations listed" in html.unescape(response.content.decode())
    assert AuditEntry.objects.filter(action="discovery.organisations", target="key Northwind").exists()
    assert "Listed a key" in staff_client.get(reverse("audit")).content.decode()


def test_a_test_organisation_has_its_badge_wherever_it_appears(staff_client, sandbox):
    sandbox.state.reset(TEST_SCENARIO)
    key = factories.key(Secret("test_partner"), name="Test partner")
    discovery.discover(key)
    organisation = Organisation.objects.get(organisation_id="org_t1")
    pages = {
        "overview": reverse("overview"),
        "credentials": reverse("credentials"),
        "key": key.get_absolute_url(),
        "organisation": organisation.get_absolute_url(),
    }
    for where, url in pages.items():
        page = staff_client.get(url).content.decode()
        assert "[TEST] Sandbox shop" in html.unescape(page), where
        assert TEST_BADGE in page, where
    create = html.unescape(staff_client.get(reverse("integration-create")).content.decode())
    assert "[TEST] Sandbox shop (org_t1) — TEST</option>" in create


def test_an_integrations_page_lists_its_merchants_by_name_and_type(viewer_client, sandbox):
    key = factories.key()
    poll_key(key.pk)
    discovery.discover(key)
    page = viewer_client.get(
        Organisation.objects.get(organisation_id=demo.BLUEBIRD_ORG)
        .integrations.get(name="Bluebird Stripe")
        .get_absolute_url()
    ).content.decode()
    merchants = page.split('id="integration-merchants"')[1].split("</ul>")[0]
    assert "<bdi>Bluebird Media</bdi>" in merchants and "STRIPE" in merchants and "mrch_bluebird_main" in merchants
    organisation = viewer_client.get(Organisation.objects.get(organisation_id=demo.BLUEBIRD_ORG).get_absolute_url())
    listed = organisation.content.decode().split('id="organisation-merchants"')[1].split("</ul>")[0]
    assert "<bdi>Bluebird Shop</bdi>" in listed and "GENERIC" in listed  # listed, in no integration yet


def test_the_overview_orders_and_finds_organisations_by_the_name_it_shows(viewer_client):
    Organisation.objects.create(organisation_id="org_1", name="Mike Travel")  # named by a listing only
    Organisation.objects.create(organisation_id="org_2", label="Bravo Holdings")
    Organisation.objects.create(organisation_id="org_3", name="Alpha Pets")
    page = viewer_client.get(reverse("overview")).content.decode()
    table = page[page.index('id="organisations-heading"') :]
    rows = [table.index(f"<bdi>{name}</bdi>") for name in ("Alpha Pets", "Bravo Holdings", "Mike Travel")]
    assert rows == sorted(rows)
    found = viewer_client.get(reverse("overview") + "?q=alpha").content.decode()
    table = found[found.index('id="organisations-heading"') :]
    assert "<bdi>Alpha Pets</bdi>" in table and "<bdi>Mike Travel</bdi>" not in table
