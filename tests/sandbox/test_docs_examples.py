"""Every example in the upstream docs, replayed against the sandbox's "docs" scenario.

The requests and documented answers are copied from the docs (DataFast "Get integrations" and
"List websites"; ChargebackStop "Integrations": examples 1-5 and the common error responses). An
answer must have the documented status, the same keys and types, and the same values wherever the
data is deterministic. Where the docs contradict themselves, the comment says how the replay reads them.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import requests

DATAFAST_WEBSITE = "65f0a1b2c3d4e5f6a7b8c9d0"
PARTNER_KEY = "docs_partner_api_key"  # the docs' <api_key>
ORG_KEY = "docs_org_api_key"  # the docs' <org_api_key>

ORDERS = {
    "id": "int_abc123",
    "organisation_id": "org_xyz456",
    "name": "Orders API Integration",
    "type": "CUSTOM_ORDERS",
    "status": "ENABLED",
    "merchant_ids": ["mrch_111", "mrch_222"],
    "links": [{"rel": "self", "uri": "/v1/integrations/int_abc123"}],
}
STRIPE_MAIN = {
    "id": "int_def789",
    "organisation_id": "org_xyz456",
    "name": "Stripe Main",
    "type": "STRIPE",
    "status": "ENABLED",
    "merchant_ids": ["mrch_111"],
    "links": [{"rel": "self", "uri": "/v1/integrations/int_def789"}],
}


@pytest.fixture
def docs(sandbox):
    sandbox.state.reset("docs")
    return sandbox


def send(sandbox, method: str, path: str, key: str, body: dict[str, Any] | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return requests.request(method, sandbox.url + path, headers=headers, json=body, timeout=5, allow_redirects=False)


def same_shape(actual: Any, documented: Any) -> bool:
    """Same keys (recursively, in lists too) and the same JSON types."""
    if isinstance(documented, dict):
        return (
            isinstance(actual, dict)
            and actual.keys() == documented.keys()
            and all(same_shape(actual[k], v) for k, v in documented.items())
        )
    if isinstance(documented, list):
        if not isinstance(actual, list):
            return False
        return not documented or all(same_shape(item, documented[0]) for item in actual)
    return type(actual) is type(documented)


# --- DataFast --------------------------------------------------------------------------------


def test_datafast_example_request_gives_the_documented_success_response(docs):
    # curl -X GET "https://datafa.st/api/v1/admin/websites/{websiteId}/integrations" -H "Authorization: Bearer dft_xxx"
    response = send(docs, "GET", f"/api/v1/admin/websites/{DATAFAST_WEBSITE}/integrations", "dft_xxx")
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "data": [
            {
                "stripe": {"connected": True},
                "lemonsqueezy": {"connected": False},
                "polar": {"connected": False},
                "paddle": {"connected": False, "keyExpiresAt": None},
                "shopify": {"connected": False},
                "woocommerce": {"connected": False},
                "currency": "USD",
            }
        ],
    }


# --- ChargebackStop: examples 1-5 ------------------------------------------------------------


def test_example_1_a_partner_level_key_lists_integrations(docs):
    response = send(docs, "GET", "/v1/integrations/?limit=20&offset=0", PARTNER_KEY)
    assert response.status_code == 200
    assert response.json() == {"items": [ORDERS, STRIPE_MAIN], "count": 2}


def test_example_2_an_organisation_level_key_lists_integrations(docs):
    # The docs show only int_abc123 (count 1), yet example 1 puts int_def789 in the same
    # organisation, which an organisation key for org_xyz456 must see too. The replay keeps the
    # access rule: the documented item comes first, with the same shape, and count is the total.
    response = send(docs, "GET", "/v1/integrations/?limit=20&offset=0", ORG_KEY)
    assert response.status_code == 200
    body = response.json()
    assert same_shape(body, {"items": [ORDERS], "count": 1})
    assert body["items"][0] == ORDERS
    assert {item["organisation_id"] for item in body["items"]} == {"org_xyz456"}
    assert body["count"] == len(body["items"])


def test_example_3_create_integration(docs):
    request = {
        "organisation_id": "org_xyz456",
        "name": "Orders API Integration",
        "type": "CUSTOM_ORDERS",
        "status": "DISABLED",
        "merchant_ids": ["mrch_111", "mrch_222"],
    }
    response = send(docs, "POST", "/v1/integrations/", PARTNER_KEY, request)
    assert response.status_code == 201
    created = response.json()
    documented = ORDERS | {"status": "DISABLED"}
    assert same_shape(created, documented)
    # The id is new (int_abc123 already exists in the scenario): same form, and the link follows it.
    assert re.fullmatch(r"int_[0-9a-f]+", created["id"])
    assert created["links"] == [{"rel": "self", "uri": f"/v1/integrations/{created['id']}"}]
    assert {k: v for k, v in created.items() if k not in ("id", "links")} == {
        k: v for k, v in documented.items() if k not in ("id", "links")
    }


def test_example_4_get_integration_by_id(docs):
    response = send(docs, "GET", "/v1/integrations/int_abc123", PARTNER_KEY)
    assert response.status_code == 200
    assert response.json() == ORDERS


def test_example_4_not_found(docs):
    response = send(docs, "GET", "/v1/integrations/int_missing000", PARTNER_KEY)
    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "NOT_FOUND", "message": "Not found"}]}


def test_example_5_update_integration(docs):
    # The documented answer shows DISABLED: in the docs' story the integration was created
    # DISABLED in example 3. Replay that state first (example 5 itself only renames).
    docs.state.set_integration_status("int_abc123", "DISABLED")
    response = send(docs, "PATCH", "/v1/integrations/int_abc123", PARTNER_KEY, {"name": "Orders API Integration - EU"})
    assert response.status_code == 200
    assert response.json() == ORDERS | {"name": "Orders API Integration - EU", "status": "DISABLED"}


# --- ChargebackStop: common error responses --------------------------------------------------


def test_401_unauthorised(docs):
    response = send(docs, "GET", "/v1/integrations/", "not_a_valid_key")
    assert response.status_code == 401
    assert response.json() == {"errors": [{"code": "UNAUTHORISED", "message": "Unauthorised"}]}


def test_403_forbidden_missing_ability(docs):
    response = send(docs, "GET", "/v1/integrations/", "docs_no_ability_api_key")
    assert response.status_code == 403
    assert response.json() == {"errors": [{"code": "FORBIDDEN", "message": "Forbidden"}]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/integrations/int_missing000", None),
        ("PATCH", "/v1/integrations/int_missing000", {"name": "x"}),
        (
            "POST",
            "/v1/integrations/",
            {"organisation_id": "org_missing", "name": "x", "type": "CUSTOM_ORDERS", "merchant_ids": ["mrch_111"]},
        ),
    ],
)
def test_404_not_found_for_an_organisation_or_integration(docs, method, path, body):
    response = send(docs, method, path, PARTNER_KEY, body)
    assert response.status_code == 404
    assert response.json() == {"errors": [{"code": "NOT_FOUND", "message": "Not found"}]}


def test_422_invalid_merchant_ids(docs):
    body = {"organisation_id": "org_xyz456", "name": "x", "type": "CUSTOM_ORDERS", "merchant_ids": ["mrch_999"]}
    response = send(docs, "POST", "/v1/integrations/", PARTNER_KEY, body)
    assert response.status_code == 422
    assert response.json() == {
        "errors": [
            {
                "code": "INVALID_MERCHANT_IDS",
                "message": "One or more merchant_ids are invalid or inaccessible for this organisation",
            }
        ]
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "code"),
    [
        (
            "POST",
            "/v1/integrations/",
            {"organisation_id": "org_xyz456", "name": "x", "type": "CUSTOM_ORDERS", "merchant_ids": ["mrch_111"] * 2},
            "DUPLICATE_MERCHANT_IDS",
        ),
        ("PATCH", "/v1/integrations/int_def789", {"status": "DISABLED"}, "INVALID_INTEGRATION_TYPE"),
        ("PATCH", "/v1/integrations/int_abc123", {}, "MISSING_UPDATE_FIELDS"),
    ],
)
def test_the_other_documented_422_codes(docs, method, path, body, code):
    response = send(docs, method, path, PARTNER_KEY, body)
    assert response.status_code == 422
    assert same_shape(response.json(), {"errors": [{"code": "", "message": ""}]})
    assert response.json()["errors"][0]["code"] == code


# --- DataFast "List websites" ----------------------------------------------------------------


def test_datafast_list_websites_example(docs):
    response = send(docs, "GET", "/api/v1/admin/websites", "dft_websites_example")
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "data": [
            {
                "_id": "665f0b3c4d2e1a0012345678",
                "domain": "example.com",
                "name": "Example",
                "trackingId": "dfid_abc123",
                "timezone": "America/New_York",
                "currency": "USD",
                "role": "owner",
            }
        ],
    }


def test_datafast_listing_websites_needs_websites_read(docs):
    response = send(docs, "GET", "/api/v1/admin/websites", "dft_xxx")  # settings:read only
    assert response.status_code == 403
    assert response.json()["status"] == "error"
    assert response.json()["error"].keys() == {"code", "message"}
