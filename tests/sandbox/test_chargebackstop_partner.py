"""The simulated ChargebackStop partner-level endpoints over real HTTP: organisations (paging,
`mode`) and merchants (filters, sort), who may call them (partner keys only; organisation keys get
401) and the documented rate limit (100 a minute per endpoint per partner group, then 429)."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from sandbox.scenarios import DEMO
from tests import demo
from tests.sandbox.test_chargebackstop import assert_error, call

PARTNER, ORGANISATION, GROUP = demo.PARTNER_KEY.reveal(), demo.ORGANISATION_KEY.reveal(), demo.GROUP_KEY.reveal()
DEMO_ORGANISATIONS = [org["id"] for org in DEMO["chargebackstop"]["organisations"]]
NO_INTEGRATION = ["org_dunmore_travel", "org_elm_street_pets"]
TEST_SCENARIO: dict[str, Any] = {
    "chargebackstop": {
        "organisations": [
            {"id": "org_t1", "name": "[TEST] Sandbox shop", "partner_id": "prt_t", "mode": "TEST"},
            {"id": "org_l1", "name": "Live shop", "partner_id": "prt_l"},
        ],
        "keys": [
            {"key": "test_partner", "level": "partner", "partner_id": "prt_t", "admin": True},
            {"key": "live_partner", "level": "partner", "partner_id": "prt_l", "admin": True},
            {"key": "live_partner_2", "level": "partner", "partner_id": "prt_l", "admin": True},
            {"key": "live_group_a", "level": "partner", "partner_id": "prt_l", "organisation_ids": ["org_l1"]},
        ],
    }
}


def page(sandbox, path: str, key: str = PARTNER, **params: Any) -> dict[str, Any]:
    response = call(sandbox, "GET", path, key, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body.keys() == {"items", "count"}
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


# --- organisations ---------------------------------------------------------------------------


def test_an_admin_key_lists_every_organisation_with_the_documented_fields(sandbox):
    body = page(sandbox, "/v1/organisations")
    assert body["count"] == len(DEMO_ORGANISATIONS) == 5
    assert ids(body) == DEMO_ORGANISATIONS  # creation order, those without integrations included
    assert set(NO_INTEGRATION) <= set(ids(body))
    first = body["items"][0]
    assert list(first) == ["id", "name", "mode", "created_at", "updated_at", "links"]
    assert first["name"] == "Acme Retail Group"
    assert first["mode"] == "LIVE"
    assert first["links"] == [{"rel": "self", "uri": "/v1/organisations/org_acme_retail"}]


def test_organisations_page_with_limit_and_offset_and_count_stays_the_total(sandbox):
    first = page(sandbox, "/v1/organisations", limit=2)
    second = page(sandbox, "/v1/organisations", limit=2, offset=2)
    last = page(sandbox, "/v1/organisations", limit=2, offset=4)
    beyond = page(sandbox, "/v1/organisations", limit=2, offset=9)
    assert [first["count"], second["count"], last["count"], beyond["count"]] == [5] * 4
    assert ids(first) + ids(second) + ids(last) == DEMO_ORGANISATIONS
    assert ids(beyond) == []


def test_the_page_size_cap_applies_to_organisations(sandbox):
    sandbox.state.max_page_size = 3
    body = page(sandbox, "/v1/organisations", limit=100)
    assert (len(body["items"]), body["count"]) == (3, 5)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "101"}, {"offset": "-1"}, {"limit": "x"}])
def test_bad_paging_is_a_validation_error(sandbox, params):
    field = next(iter(params))
    assert_error(call(sandbox, "GET", "/v1/organisations", params=params), 400, "VALIDATION_ERROR", field)


def test_a_non_admin_group_key_lists_only_its_assigned_organisations(sandbox):
    assert ids(page(sandbox, "/v1/organisations", GROUP)) == [demo.CEDAR_ORG]
    assert call(sandbox, "GET", f"/v1/organisations/{demo.ACME_ORG}", GROUP).status_code == 404


def test_one_organisation_by_id(sandbox):
    response = call(sandbox, "GET", "/v1/organisations/org_dunmore_travel")
    assert response.status_code == 200
    assert response.json()["name"] == "Dunmore Travel"
    assert_error(call(sandbox, "GET", "/v1/organisations/org_nope"), 404, "NOT_FOUND")


def test_mode_is_test_for_a_test_partners_organisations(sandbox):
    sandbox.state.reset(TEST_SCENARIO)
    [test] = page(sandbox, "/v1/organisations", "test_partner")["items"]
    assert (test["mode"], test["name"]) == ("TEST", "[TEST] Sandbox shop")
    [live] = page(sandbox, "/v1/organisations", "live_partner")["items"]
    assert live["mode"] == "LIVE"


# --- merchants -------------------------------------------------------------------------------


def test_merchants_have_the_documented_fields_newest_first_by_default(sandbox):
    body = page(sandbox, "/v1/merchants", limit=100)
    assert body["count"] == 11
    assert ids(body)[0] == "mrch_elm_online"  # the last created
    assert ids(body)[-1] == "mrch_acme_us"
    acme_us = body["items"][-1]
    assert list(acme_us) == [
        "id",
        "organisation_id",
        "name",
        "type",
        "external_id",
        "default_representment_service_type",
        "created_at",
        "updated_at",
        "links",
    ]
    assert acme_us | {"created_at": None, "updated_at": None} == {
        "id": "mrch_acme_us",
        "organisation_id": demo.ACME_ORG,
        "name": "Acme US",
        "type": "STRIPE",
        "external_id": "acct_1AcmeUS",
        "default_representment_service_type": None,
        "created_at": None,
        "updated_at": None,
        "links": [{"rel": "self", "uri": "/v1/merchants/mrch_acme_us"}],
    }
    assert next(item for item in body["items"] if item["id"] == "mrch_acme_uk")["external_id"] is None


def test_merchants_filter_by_organisation(sandbox):
    body = page(sandbox, "/v1/merchants", organisation_id=demo.ACME_ORG, sort="created_at")
    assert ids(body) == ["mrch_acme_us", "mrch_acme_eu", "mrch_acme_uk"]
    assert body["count"] == 3
    assert page(sandbox, "/v1/merchants", organisation_id="org_nope")["count"] == 0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"type": "ADYEN"}, {"mrch_acme_eu", "mrch_cedar_03"}),
        ({"name": "cEdAr hotel"}, {"mrch_cedar_01", "mrch_cedar_02"}),
        ({"external_id": "acct_1AcmeUS"}, {"mrch_acme_us"}),
        ({"external_id": "acct_1acmeus"}, set()),  # exact
        ({"organisation_id": "org_dunmore_travel", "type": "GENERIC"}, {"mrch_dunmore_tours"}),
    ],
)
def test_merchants_filter_by_type_name_and_external_id(sandbox, params, expected):
    assert set(ids(page(sandbox, "/v1/merchants", limit=100, **params))) == expected


def test_merchants_sort_and_page(sandbox):
    by_name = ids(page(sandbox, "/v1/merchants", organisation_id=demo.CEDAR_ORG, sort="name"))
    assert by_name == ["mrch_cedar_03", "mrch_cedar_02", "mrch_cedar_01"]  # Bookings, Airport, Downtown
    assert ids(page(sandbox, "/v1/merchants", organisation_id=demo.CEDAR_ORG, sort="-name")) == by_name[::-1]
    by_type = page(sandbox, "/v1/merchants", sort="type", limit=100)["items"]
    assert [item["type"] for item in by_type] == sorted(item["type"] for item in by_type)
    pages = [ids(page(sandbox, "/v1/merchants", limit=4, offset=offset)) for offset in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 4, 3]
    assert [merchant for p in pages for merchant in p] == ids(page(sandbox, "/v1/merchants", limit=100))
    assert_error(call(sandbox, "GET", "/v1/merchants", params={"sort": "colour"}), 400, "VALIDATION_ERROR", "sort")


def test_a_group_key_sees_only_its_organisations_merchants(sandbox):
    assert {item["organisation_id"] for item in page(sandbox, "/v1/merchants", GROUP)["items"]} == {demo.CEDAR_ORG}
    assert page(sandbox, "/v1/merchants", GROUP, organisation_id=demo.ACME_ORG)["count"] == 0
    assert call(sandbox, "GET", "/v1/merchants/mrch_acme_us", GROUP).status_code == 404
    assert call(sandbox, "GET", "/v1/merchants/mrch_cedar_01", GROUP).json()["name"] == "Cedar Hotel Downtown"


# --- who may call ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/v1/organisations", f"/v1/organisations/{demo.ACME_ORG}", "/v1/merchants", "/v1/merchants/mrch_acme_us"]
)
def test_organisation_keys_get_401_there_while_their_integrations_still_answer(sandbox, path):
    assert_error(call(sandbox, "GET", path, ORGANISATION), 401, "UNAUTHORISED")
    assert_error(call(sandbox, "GET", path, None), 401, "UNAUTHORISED")
    assert call(sandbox, "GET", "/v1/integrations/", ORGANISATION).status_code == 200


def test_a_revoked_partner_key_is_401(sandbox):
    sandbox.state.revoke_key(PARTNER)
    assert_error(call(sandbox, "GET", "/v1/organisations"), 401, "UNAUTHORISED")


@pytest.mark.parametrize(("path", "ability"), [("/v1/organisations", "merchants:read"), ("/v1/merchants", "x")])
def test_a_key_without_the_ability_is_403(sandbox, path, ability):
    sandbox.state.set_key_abilities(PARTNER, ["integrations:read", ability])
    assert_error(call(sandbox, "GET", path), 403, "FORBIDDEN")


def test_writes_are_405(sandbox):
    response = call(sandbox, "POST", "/v1/organisations", json={})
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "GET, HEAD"


# --- rate limit ------------------------------------------------------------------------------


class Clock:
    """The sandbox's rate window reads `state.clock`; the test moves it by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def burst(sandbox, path: str, key: str, count: int) -> list[int]:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {key}"
        return [session.get(sandbox.url + path, timeout=5).status_code for _ in range(count)]


def test_the_101st_request_in_a_minute_of_one_group_is_429_with_retry_after(sandbox):
    sandbox.state.reset(TEST_SCENARIO)
    clock = sandbox.state.clock = Clock()
    # Two keys of one admin group share the budget: it is counted per group, not per key.
    assert burst(sandbox, "/v1/organisations", "live_partner", 60) == [200] * 60
    clock.now += 30
    assert burst(sandbox, "/v1/organisations", "live_partner_2", 40) == [200] * 40
    refused = call(sandbox, "GET", "/v1/organisations", "live_partner")
    assert_error(refused, 429, "RATE_LIMITED")
    assert refused.headers["Retry-After"] == "30"  # when the first 60 leave the window
    # Per endpoint, and per group: others are untouched.
    assert call(sandbox, "GET", "/v1/merchants", "live_partner").status_code == 200
    assert call(sandbox, "GET", "/v1/organisations/org_l1", "live_partner").status_code == 200
    assert call(sandbox, "GET", "/v1/organisations", "live_group_a").status_code == 200
    assert call(sandbox, "GET", "/v1/organisations", "test_partner").status_code == 200
    # A refused request is not counted: a minute after the first burst, those 60 are free again.
    clock.now += 29
    assert call(sandbox, "GET", "/v1/organisations", "live_partner_2").status_code == 429
    clock.now += 1
    assert burst(sandbox, "/v1/organisations", "live_partner", 61) == [200] * 60 + [429]


def test_the_rate_limit_is_a_knob_and_a_reset_restores_it(sandbox):
    sandbox.state.rate_limit = 2
    assert burst(sandbox, "/v1/merchants", PARTNER, 3) == [200, 200, 429]
    sandbox.state.reset("demo")
    assert sandbox.state.rate_limit == 100
    assert burst(sandbox, "/v1/merchants", PARTNER, 3) == [200, 200, 200]


def test_the_integrations_endpoints_are_not_rate_limited(sandbox):
    sandbox.state.rate_limit = 1
    assert burst(sandbox, "/v1/integrations/", PARTNER, 3) == [200, 200, 200]
