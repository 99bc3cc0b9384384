from __future__ import annotations

import time

import pytest

from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.upstream.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    SchemaError,
    TransientError,
)
from tests import demo

PATH = "/v1/integrations/"


@pytest.fixture
def partner(sandbox) -> ChargebackStopClient:
    return ChargebackStopClient(demo.PARTNER_KEY)


def test_a_partner_admin_key_lists_every_organisation_of_its_partner(partner, sandbox):
    listing = partner.list_integrations()
    assert listing.complete
    assert listing.count == len(listing.integrations) == len(sandbox.state.integrations())
    assert {item.organisation_id for item in listing.integrations} == {demo.ACME_ORG, demo.BLUEBIRD_ORG, demo.CEDAR_ORG}


def test_an_organisation_key_lists_only_its_own_organisation(sandbox):
    listing = ChargebackStopClient(demo.ORGANISATION_KEY).list_integrations()
    assert listing.complete
    assert {item.organisation_id for item in listing.integrations} == {demo.ACME_ORG}


def test_a_group_key_lists_only_the_organisations_of_its_group(sandbox):
    listing = ChargebackStopClient(demo.GROUP_KEY).list_integrations()
    assert {item.organisation_id for item in listing.integrations} == {demo.CEDAR_ORG}


def test_paging_advances_by_the_items_actually_received(partner, sandbox):
    sandbox.state.max_page_size = 2
    listing = partner.list_integrations(page_size=5)
    assert listing.complete
    assert len(listing.integrations) == listing.count
    assert listing.pages == -(-listing.count // 2)


def test_the_page_cap_makes_an_incomplete_listing(partner, sandbox):
    sandbox.state.max_page_size = 1
    listing = partner.list_integrations(page_size=5, max_pages=2)
    assert not listing.complete
    assert len(listing.integrations) == 2
    assert listing.count > 2


def test_an_integration_created_between_pages_does_not_break_the_listing(partner, sandbox):
    sandbox.state.max_page_size = 3
    first = partner.list_integrations(page_size=3)
    sandbox.state.add_integration(demo.ACME_ORG, "Late arrival", "CUSTOM_ORDERS", "ENABLED", ["mrch_acme_us"])
    second = partner.list_integrations(page_size=3)
    assert second.complete
    assert len(second.integrations) == len(first.integrations) + 1


def test_create_get_rename_and_disable_round_trip(partner):
    created = partner.create_integration(
        organisation_id=demo.ACME_ORG, name="Shop orders", merchant_ids=["mrch_acme_us", "mrch_acme_eu"]
    )
    assert created.status == "ENABLED"
    assert created.type == "CUSTOM_ORDERS"
    assert partner.get_integration(created.id) == created
    renamed = partner.rename_integration(created.id, "Shop orders EU")
    assert renamed.name == "Shop orders EU"
    disabled = partner.disable_integration(created.id)
    assert disabled.status == "DISABLED"
    assert partner.get_integration(created.id).status == "DISABLED"


def test_create_with_duplicate_merchants_names_the_field(partner):
    with pytest.raises(InvalidRequestError) as caught:
        partner.create_integration(
            organisation_id=demo.ACME_ORG, name="Dup", merchant_ids=["mrch_acme_us", "mrch_acme_us"]
        )
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        422,
        "DUPLICATE_MERCHANT_IDS",
        "merchant_ids",
    )


def test_create_with_a_merchant_of_another_organisation_names_the_field(partner):
    with pytest.raises(InvalidRequestError) as caught:
        partner.create_integration(organisation_id=demo.ACME_ORG, name="X", merchant_ids=["mrch_cedar_01"])
    assert (caught.value.code, caught.value.field) == ("INVALID_MERCHANT_IDS", "merchant_ids")


def test_create_in_an_organisation_the_key_cannot_reach_is_not_found(sandbox):
    client = ChargebackStopClient(demo.ORGANISATION_KEY)
    with pytest.raises(NotFoundError):
        client.create_integration(organisation_id=demo.CEDAR_ORG, name="X", merchant_ids=["mrch_cedar_01"])


def test_patching_a_non_custom_orders_integration_is_refused(partner):
    with pytest.raises(InvalidRequestError) as caught:
        partner.disable_integration(demo.ACME_STRIPE)
    assert caught.value.code == "INVALID_INTEGRATION_TYPE"


def test_an_unknown_integration_is_not_found(partner):
    with pytest.raises(NotFoundError) as caught:
        partner.get_integration("int_does_not_exist")
    assert caught.value.code == "NOT_FOUND"


def test_a_revoked_key_is_a_credential_error(partner, sandbox):
    sandbox.state.revoke_key(demo.PARTNER_KEY.reveal())
    with pytest.raises(CredentialError) as caught:
        partner.list_integrations()
    assert (caught.value.status, caught.value.code) == (401, "UNAUTHORISED")


def test_a_key_without_write_ability_is_forbidden_to_create(partner, sandbox):
    sandbox.state.set_key_abilities(demo.PARTNER_KEY.reveal(), ["integrations:read"])
    with pytest.raises(CredentialError) as caught:
        partner.create_integration(organisation_id=demo.ACME_ORG, name="X", merchant_ids=["mrch_acme_us"])
    assert (caught.value.status, caught.value.code) == (403, "FORBIDDEN")


def test_a_create_is_never_retried(partner, sandbox):
    sandbox.state.faults.add(PATH, kind="status", status=503, retry_after=1, times=1, method="POST")
    before = len(sandbox.state.integrations())
    with pytest.raises(TransientError):
        partner.create_integration(organisation_id=demo.ACME_ORG, name="Once", merchant_ids=["mrch_acme_us"])
    assert len(sandbox.state.integrations()) == before
    assert sandbox.state.stats()["chargebackstop"]["requests"] == 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "malformed"}, SchemaError),
        ({"kind": "missing_field", "field": "count"}, SchemaError),
        ({"kind": "missing_field", "field": "items"}, SchemaError),
        ({"kind": "status", "status": 500}, TransientError),
        ({"kind": "drop"}, TransientError),
    ],
)
def test_each_listing_fault_raises_its_typed_error(partner, sandbox, fault, error):
    sandbox.state.faults.add(PATH, **fault)
    with pytest.raises(error):
        partner.list_integrations()


def test_the_key_never_shows_in_repr(partner):
    assert demo.PARTNER_KEY.reveal() not in repr(partner)


def test_a_listing_cut_by_its_deadline_keeps_the_pages_read_as_incomplete(partner, sandbox):
    sandbox.state.max_page_size = 2
    sandbox.state.faults.add(PATH, kind="latency", seconds=0.5)
    listing = partner.list_integrations(page_size=2, deadline=time.monotonic() + 0.8)
    assert (listing.pages, listing.complete, len(listing.integrations)) == (1, False, 2)
    assert "stopped after 1 pages at the poll's deadline" in listing.note


def test_no_request_is_sent_once_the_deadline_has_passed(partner, sandbox):
    with pytest.raises(TransientError) as caught:
        partner.list_integrations(page_size=2, deadline=time.monotonic() - 1)
    assert caught.value.reason == "timeout"
    assert sandbox.state.stats()["chargebackstop"]["requests"] == 0


def test_a_schema_error_carries_the_answers_status(partner, sandbox):
    sandbox.state.faults.add(PATH, kind="missing_field", field="count")
    with pytest.raises(SchemaError) as caught:
        partner.list_integrations()
    assert caught.value.status == 200
