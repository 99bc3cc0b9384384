"""The simulated ChargebackStop API over real HTTP: listing, paging, visibility per key type,
create/get/patch round trips, and every documented error code in its envelope."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests import demo

COLLECTION = "/v1/integrations/"
PARTNER = demo.PARTNER_KEY.reveal()
ORGANISATION = demo.ORGANISATION_KEY.reveal()
GROUP = demo.GROUP_KEY.reveal()
INTEGRATION_ID = re.compile(r"^int_[0-9a-f]+$")
NEW = {
    "organisation_id": demo.ACME_ORG,
    "name": "Shop orders",
    "type": "CUSTOM_ORDERS",
    "merchant_ids": ["mrch_acme_us", "mrch_acme_eu"],
}


def call(sandbox, method: str, path: str, key: str | None = PARTNER, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, sandbox.url + path, headers=headers, timeout=5, allow_redirects=False, **kwargs)


def listing(sandbox, key: str = PARTNER, **params) -> dict[str, Any]:
    response = call(sandbox, "GET", COLLECTION, key, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def assert_error(response: requests.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["errors"]
    first: dict[str, Any] = body["errors"][0]
    assert first["code"] == code
    assert isinstance(first["message"], str)
    assert first["message"]
    if field is None:
        assert first.keys() == {"code", "message"}
    else:
        assert first["field"] == field
    return first


# --- listing ---------------------------------------------------------------------------------


def test_a_partner_admin_key_lists_all_its_organisations_in_creation_order(sandbox):
    body = listing(sandbox)
    assert body.keys() == {"items", "count"}
    assert body["count"] == 10
    assert body["items"] == sandbox.state.integrations()
    assert {item["organisation_id"] for item in body["items"]} == {demo.ACME_ORG, demo.BLUEBIRD_ORG, demo.CEDAR_ORG}


def test_each_item_has_the_documented_shape(sandbox):
    item = call(sandbox, "GET", f"/v1/integrations/{demo.ACME_ORDERS}").json()
    assert item == {
        "id": demo.ACME_ORDERS,
        "organisation_id": demo.ACME_ORG,
        "name": "Acme Orders API",
        "type": "CUSTOM_ORDERS",
        "status": "ENABLED",
        "merchant_ids": ["mrch_acme_us", "mrch_acme_eu"],
        "links": [{"rel": "self", "uri": f"/v1/integrations/{demo.ACME_ORDERS}"}],
    }


@pytest.mark.parametrize(
    ("key", "organisations", "count"),
    [
        (ORGANISATION, {demo.ACME_ORG}, 4),
        (GROUP, {demo.CEDAR_ORG}, 3),
    ],
)
def test_organisation_and_group_keys_see_only_their_organisations(sandbox, key, organisations, count):
    body = listing(sandbox, key)
    assert body["count"] == len(body["items"]) == count
    assert {item["organisation_id"] for item in body["items"]} == organisations


def test_the_default_page_is_20_and_count_is_the_total(sandbox):
    for n in range(15):
        sandbox.state.add_integration(demo.ACME_ORG, f"Extra {n}", "STRIPE", "ENABLED", ["mrch_acme_us"])
    body = listing(sandbox)
    assert (len(body["items"]), body["count"]) == (20, 25)
    assert len(listing(sandbox, limit=100)["items"]) == 25


def test_limit_and_offset_page_through_everything_once(sandbox):
    pages = [listing(sandbox, limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [len(page["items"]) for page in pages] == [3, 3, 3, 1]
    assert {page["count"] for page in pages} == {10}
    assert [item for page in pages for item in page["items"]] == sandbox.state.integrations()
    assert listing(sandbox, limit=3, offset=50) == {"items": [], "count": 10}


def test_max_page_size_caps_what_limit_asks(sandbox):
    sandbox.state.max_page_size = 2
    body = listing(sandbox, limit=5, offset=1)
    assert (len(body["items"]), body["count"]) == (2, 10)
    assert body["items"] == sandbox.state.integrations()[1:3]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "2.5"}, "limit"),
        ({"limit": ""}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"offset": "x"}, "offset"),
    ],
)
def test_bad_paging_parameters_are_400_naming_the_field(sandbox, params, field):
    assert_error(call(sandbox, "GET", COLLECTION, params=params), 400, "VALIDATION_ERROR", field)


def test_the_collection_answers_with_and_without_the_trailing_slash(sandbox):
    assert call(sandbox, "GET", "/v1/integrations").json() == listing(sandbox)
    assert call(sandbox, "POST", "/v1/integrations", json=NEW).status_code == 201
    assert call(sandbox, "GET", f"/v1/integrations/{demo.ACME_ORDERS}/").status_code == 200


# --- authentication and abilities ------------------------------------------------------------

UNAUTHORISED = {"errors": [{"code": "UNAUTHORISED", "message": "Unauthorised"}]}
FORBIDDEN = {"errors": [{"code": "FORBIDDEN", "message": "Forbidden"}]}


@pytest.mark.parametrize("key", [None, "cbs_not_a_key_0000000000"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", COLLECTION),
        ("POST", COLLECTION),
        ("GET", f"/v1/integrations/{demo.ACME_ORDERS}"),
        ("PATCH", f"/v1/integrations/{demo.ACME_ORDERS}"),
    ],
)
def test_no_key_or_an_unknown_key_is_401_everywhere(sandbox, key, method, path):
    response = call(sandbox, method, path, key, json={"name": "x"})
    assert response.status_code == 401
    assert response.json() == UNAUTHORISED


def test_a_revoked_key_is_401(sandbox):
    sandbox.state.revoke_key(PARTNER)
    assert call(sandbox, "GET", COLLECTION).json() == UNAUTHORISED
    assert listing(sandbox, ORGANISATION)["count"] == 4  # other keys still work


@pytest.mark.parametrize(
    ("abilities", "allowed"),
    [
        ([], set()),
        (["integrations:read"], {"GET"}),
        (["integrations:write"], {"POST", "PATCH"}),
        (["integrations:read", "integrations:write"], {"GET", "POST", "PATCH"}),
    ],
)
def test_get_needs_read_and_post_patch_need_write(sandbox, abilities, allowed):
    sandbox.state.set_key_abilities(PARTNER, abilities)
    attempts = {
        "GET": call(sandbox, "GET", COLLECTION),
        "POST": call(sandbox, "POST", COLLECTION, json=NEW),
        "PATCH": call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_ORDERS}", json={"name": "Renamed"}),
    }
    for method, response in attempts.items():
        if method in allowed:
            assert response.status_code in (200, 201), method
        else:
            assert (response.status_code, response.json()) == (403, FORBIDDEN), method


def test_the_checks_run_in_the_documented_order(sandbox):
    bad_body = {"organisation_id": "org_nowhere", "name": "", "type": "STRIPE", "merchant_ids": ["m", "m"]}
    assert call(sandbox, "POST", COLLECTION, None, json=bad_body).status_code == 401
    sandbox.state.set_key_abilities(PARTNER, ["integrations:read"])
    assert call(sandbox, "POST", COLLECTION, json=bad_body).status_code == 403
    sandbox.state.set_key_abilities(PARTNER, ["integrations:read", "integrations:write"])
    assert_error(call(sandbox, "POST", COLLECTION, json=bad_body), 400, "VALIDATION_ERROR", "name")
    bad_body["name"] = "ok"
    assert_error(call(sandbox, "POST", COLLECTION, json=bad_body), 404, "NOT_FOUND")
    bad_body["organisation_id"] = demo.ACME_ORG
    assert_error(call(sandbox, "POST", COLLECTION, json=bad_body), 422, "INVALID_INTEGRATION_TYPE")
    # PATCH: a schema problem beats an unknown integration, which beats a business rule.
    assert_error(
        call(sandbox, "PATCH", "/v1/integrations/int_nope", json={"status": "ENABLED"}),
        400,
        "VALIDATION_ERROR",
        "status",
    )
    assert_error(call(sandbox, "PATCH", "/v1/integrations/int_nope", json={}), 404, "NOT_FOUND")
    # The method is refused before anything else.
    assert call(sandbox, "DELETE", f"/v1/integrations/{demo.ACME_ORDERS}", None).status_code == 405


# --- create ----------------------------------------------------------------------------------


def test_create_returns_201_with_the_integration_enabled_by_default(sandbox):
    response = call(sandbox, "POST", COLLECTION, json=NEW)
    assert response.status_code == 201
    created = response.json()
    assert INTEGRATION_ID.match(created["id"])
    assert created == {
        **NEW,
        "id": created["id"],
        "status": "ENABLED",
        "links": [{"rel": "self", "uri": f"/v1/integrations/{created['id']}"}],
    }
    assert call(sandbox, "GET", created["links"][0]["uri"]).json() == created
    assert listing(sandbox)["items"][-1] == created  # creation order: last
    assert listing(sandbox, GROUP)["count"] == 3  # not visible to a group without Acme


def test_create_honours_an_initial_disabled_status(sandbox):
    created = call(sandbox, "POST", COLLECTION, json=NEW | {"status": "DISABLED"}).json()
    assert created["status"] == "DISABLED"


def test_an_organisation_key_creates_in_its_own_organisation(sandbox):
    assert call(sandbox, "POST", COLLECTION, ORGANISATION, json=NEW).status_code == 201


def test_concurrent_creates_get_distinct_ids(sandbox):
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda n: call(sandbox, "POST", COLLECTION, json=NEW | {"name": f"N{n}"}), range(20)))
    assert {response.status_code for response in responses} == {201}
    assert len({response.json()["id"] for response in responses}) == 20
    assert listing(sandbox)["count"] == 30


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"organisation_id": None}, "organisation_id"),
        ({"organisation_id": 5}, "organisation_id"),
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": ["a"]}, "name"),
        ({"type": None}, "type"),
        ({"type": 1}, "type"),
        ({"status": "PAUSED"}, "status"),
        ({"status": True}, "status"),
        ({"merchant_ids": None}, "merchant_ids"),
        ({"merchant_ids": []}, "merchant_ids"),
        ({"merchant_ids": "mrch_acme_us"}, "merchant_ids"),
        ({"merchant_ids": ["mrch_acme_us", 7]}, "merchant_ids"),
    ],
)
def test_create_schema_problems_are_400_naming_the_field(sandbox, change, field):
    body = {name: value for name, value in (NEW | change).items() if value is not None}
    first = assert_error(call(sandbox, "POST", COLLECTION, json=body), 400, "VALIDATION_ERROR", field)
    assert field in first["message"]


def test_a_name_of_255_characters_is_accepted(sandbox):
    assert call(sandbox, "POST", COLLECTION, json=NEW | {"name": "x" * 255}).status_code == 201


def test_every_schema_problem_is_listed(sandbox):
    errors = call(sandbox, "POST", COLLECTION, json={"name": 1}).json()["errors"]
    assert [error["field"] for error in errors] == ["organisation_id", "name", "type", "merchant_ids"]
    assert {error["code"] for error in errors} == {"VALIDATION_ERROR"}


@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(sandbox, body):
    response = requests.post(
        sandbox.url + COLLECTION,
        data=body,
        headers={"Authorization": f"Bearer {PARTNER}", "Content-Type": "application/json"},
        timeout=5,
    )
    assert_error(response, 400, "VALIDATION_ERROR", "body")


@pytest.mark.parametrize(
    ("key", "organisation_id"),
    [(PARTNER, "org_nowhere"), (ORGANISATION, demo.CEDAR_ORG), (GROUP, demo.ACME_ORG)],
)
def test_create_in_an_unknown_or_unreachable_organisation_is_404(sandbox, key, organisation_id):
    response = call(sandbox, "POST", COLLECTION, key, json=NEW | {"organisation_id": organisation_id})
    assert response.json() == {"errors": [{"code": "NOT_FOUND", "message": "Not found"}]}
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"type": "STRIPE"}, "INVALID_INTEGRATION_TYPE"),
        ({"merchant_ids": ["mrch_acme_us", "mrch_acme_us"]}, "DUPLICATE_MERCHANT_IDS"),
        ({"merchant_ids": ["mrch_acme_us", "mrch_cedar_01"]}, "INVALID_MERCHANT_IDS"),
        ({"merchant_ids": ["mrch_does_not_exist"]}, "INVALID_MERCHANT_IDS"),
    ],
)
def test_create_business_rules_are_422_with_the_documented_codes(sandbox, change, code):
    before = len(sandbox.state.integrations())
    assert_error(call(sandbox, "POST", COLLECTION, json=NEW | change), 422, code)
    assert len(sandbox.state.integrations()) == before


def test_invalid_merchant_ids_has_the_documented_message(sandbox):
    response = call(sandbox, "POST", COLLECTION, json=NEW | {"merchant_ids": ["mrch_cedar_01"]})
    assert response.json() == {
        "errors": [
            {
                "code": "INVALID_MERCHANT_IDS",
                "message": "One or more merchant_ids are invalid or inaccessible for this organisation",
            }
        ]
    }


# --- get and patch ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "integration_id"), [(PARTNER, "int_nope"), (ORGANISATION, "int_4b7c1e05f82a"), (GROUP, demo.ACME_ORDERS)]
)
def test_get_of_an_unknown_or_invisible_integration_is_404(sandbox, key, integration_id):
    response = call(sandbox, "GET", f"/v1/integrations/{integration_id}", key)
    assert (response.status_code, response.json()) == (404, {"errors": [{"code": "NOT_FOUND", "message": "Not found"}]})


def test_patch_renames_and_disables_custom_orders(sandbox):
    item = f"/v1/integrations/{demo.ACME_ORDERS}"
    renamed = call(sandbox, "PATCH", item, json={"name": "Acme Orders (EU)"})
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["status"]) == (
        200,
        "Acme Orders (EU)",
        "ENABLED",
    )
    disabled = call(sandbox, "PATCH", item, json={"status": "DISABLED"})
    assert (disabled.status_code, disabled.json()["status"]) == (200, "DISABLED")
    again = call(sandbox, "PATCH", item, json={"status": "DISABLED", "name": "Both"})
    assert (again.status_code, again.json()["status"], again.json()["name"]) == (200, "DISABLED", "Both")
    assert call(sandbox, "GET", item).json() == again.json()
    assert sandbox.state.integrations(demo.ACME_ORG)[0] == again.json()


def test_an_organisation_key_patches_its_own_integration(sandbox):
    assert (
        call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_ORDERS}", ORGANISATION, json={"name": "Mine"}).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "ENABLED"}, "status"),
        ({"status": "PAUSED"}, "status"),
        ({"status": 0}, "status"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": 12}, "name"),
    ],
)
def test_patch_schema_problems_are_400_naming_the_field(sandbox, body, field):
    assert_error(
        call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_ORDERS}", json=body), 400, "VALIDATION_ERROR", field
    )


@pytest.mark.parametrize("body", [{}, {"name": None}, {"status": None}, {"unrelated": "x"}])
def test_patch_without_status_or_name_is_missing_update_fields(sandbox, body):
    assert_error(
        call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_ORDERS}", json=body), 422, "MISSING_UPDATE_FIELDS"
    )


@pytest.mark.parametrize("body", [{"status": "DISABLED"}, {"name": "Renamed Stripe"}])
def test_any_patch_of_a_non_custom_orders_integration_is_refused(sandbox, body):
    assert_error(
        call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_STRIPE}", json=body), 422, "INVALID_INTEGRATION_TYPE"
    )
    assert sandbox.state.integrations(demo.ACME_ORG)[1]["name"] == "Acme Stripe"


def test_patch_of_an_invisible_integration_is_404(sandbox):
    response = call(sandbox, "PATCH", f"/v1/integrations/{demo.ACME_ORDERS}", GROUP, json={"name": "x"})
    assert_error(response, 404, "NOT_FOUND")


# --- outside changes, methods and paths ------------------------------------------------------


def test_changes_made_outside_the_api_show_in_it(sandbox):
    item = f"/v1/integrations/{demo.ACME_ORDERS}"
    call(sandbox, "PATCH", item, json={"status": "DISABLED"})
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "ENABLED")  # re-enabled in ChargebackStop's own UI
    sandbox.state.rename_integration(demo.ACME_ORDERS, "Renamed elsewhere")
    assert call(sandbox, "GET", item).json()["status"] == "ENABLED"
    assert call(sandbox, "GET", item).json()["name"] == "Renamed elsewhere"
    sandbox.state.delete_integration(demo.ACME_ORDERS)
    assert call(sandbox, "GET", item).status_code == 404
    assert listing(sandbox)["count"] == 9


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", f"/v1/integrations/{demo.ACME_ORDERS}", "GET, HEAD, PATCH"),
        ("PUT", f"/v1/integrations/{demo.ACME_ORDERS}", "GET, HEAD, PATCH"),
        ("PATCH", COLLECTION, "GET, HEAD, POST"),
        ("DELETE", "/v1/integrations", "GET, HEAD, POST"),
    ],
)
def test_other_methods_are_405_in_the_envelope(sandbox, method, path, allowed):
    response = call(sandbox, method, path)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("path", ["/v1/orders/", "/v1/integrations/a/b", "/v1/merchants/a/b", "/v1/"])
def test_unknown_paths_are_404_in_the_envelope(sandbox, path):
    assert_error(call(sandbox, "GET", path), 404, "NOT_FOUND")
