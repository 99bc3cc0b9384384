"""The simulated DataFast API over real HTTP: documented success body and every access rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from tests import demo

PROVIDERS = ["stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce"]
JS_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def path(website_id: str) -> str:
    return f"/api/v1/admin/websites/{website_id}/integrations"


def get(sandbox, website_id: str, token: str | None = demo.DATAFAST_TOKEN.reveal(), **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers |= kwargs.pop("headers", {})
    return requests.request(
        kwargs.pop("method", "GET"), sandbox.url + path(website_id), headers=headers, timeout=5, **kwargs
    )


def assert_error(response: requests.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body.keys() == {"status", "error"}
    assert body["status"] == "error"
    assert body["error"].keys() == {"code", "message"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def test_it_answers_with_the_documented_body(sandbox):
    response = get(sandbox, demo.BLUEBIRD_BOOKS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "success",
        "data": [
            {
                "stripe": {"connected": True},
                "lemonsqueezy": {"connected": True},
                "polar": {"connected": False},
                "paddle": {"connected": False, "keyExpiresAt": None},
                "shopify": {"connected": False},
                "woocommerce": {"connected": False},
                "currency": "GBP",
            }
        ],
    }
    assert list(response.json()["data"][0]) == [*PROVIDERS, "currency"]


def test_the_paddle_key_expiry_is_an_iso_string_with_z_relative_to_load_time(sandbox):
    expiry = get(sandbox, demo.ACME_STORE).json()["data"][0]["paddle"]["keyExpiresAt"]
    assert JS_ISO.match(expiry)
    left = datetime.fromisoformat(expiry) - datetime.now(UTC)
    assert timedelta(days=4, hours=23) < left <= timedelta(days=5)
    expired = get(sandbox, demo.DELTA_DESIGN).json()["data"][0]["paddle"]
    assert expired["connected"] is True
    assert datetime.fromisoformat(expired["keyExpiresAt"]) < datetime.now(UTC)


@pytest.mark.parametrize(
    ("when", "shown"),
    [
        (datetime(2030, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC), "2030-01-02T03:04:05.678Z"),
        (datetime(2030, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2030-01-02T03:04:05.000Z"),
        (datetime(2030, 1, 2, 3, 4, 5), "2030-01-02T03:04:05.000Z"),  # naive is read as UTC
        (None, None),
    ],
)
def test_set_paddle_expiry_is_served_in_utc(sandbox, when, shown):
    sandbox.state.set_paddle_expiry(demo.ACME_STORE, when)
    assert get(sandbox, demo.ACME_STORE).json()["data"][0]["paddle"]["keyExpiresAt"] == shown


def test_state_changes_show_in_the_next_answer(sandbox):
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.set_connected(demo.ACME_STORE, "woocommerce", True)
    sandbox.state.set_currency(demo.ACME_STORE, "EUR")
    entry = get(sandbox, demo.ACME_STORE).json()["data"][0]
    assert entry["stripe"] == {"connected": False}
    assert entry["woocommerce"] == {"connected": True}
    assert entry["currency"] == "EUR"


def test_state_refuses_unknown_providers_currencies_and_websites(sandbox):
    with pytest.raises(ValueError, match="provider"):
        sandbox.state.set_connected(demo.ACME_STORE, "paypal", True)
    with pytest.raises(ValueError, match="currency"):
        sandbox.state.set_currency(demo.ACME_STORE, "euro")
    with pytest.raises(KeyError):
        sandbox.state.set_connected(demo.UNKNOWN_WEBSITE, "stripe", True)


def test_an_added_website_is_served_to_the_tokens_given_access(sandbox):
    website_id = sandbox.state.add_website(
        name="New shop", currency="GBP", connected=["polar"], tokens=[demo.DATAFAST_TOKEN.reveal()]
    )
    assert re.fullmatch(r"[0-9a-f]{24}", website_id)
    entry = get(sandbox, website_id).json()["data"][0]
    assert (entry["polar"], entry["stripe"], entry["currency"]) == ({"connected": True}, {"connected": False}, "GBP")
    assert_error(get(sandbox, website_id, demo.OTHER_DATAFAST_TOKEN.reveal()), 403, "FORBIDDEN")


def test_a_removed_website_is_not_found(sandbox):
    sandbox.state.remove_website(demo.ACME_STORE)
    assert_error(get(sandbox, demo.ACME_STORE), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic ZGZ0Onh4eA==", "dft_demo_4f7c2a9e1b3d5f60a8c4e2b1", "Bearer a b"],
)
def test_a_missing_or_malformed_authorization_header_is_401(sandbox, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_error(get(sandbox, demo.ACME_STORE, token=None, headers=headers), 401, "UNAUTHORIZED")


def test_the_bearer_scheme_is_case_insensitive(sandbox):
    response = get(
        sandbox, demo.ACME_STORE, token=None, headers={"Authorization": f"bearer {demo.DATAFAST_TOKEN.reveal()}"}
    )
    assert response.status_code == 200


def test_an_unknown_token_is_401(sandbox):
    assert_error(get(sandbox, demo.ACME_STORE, "dft_not_a_real_token_000000"), 401, "UNAUTHORIZED")


def test_a_revoked_token_is_401(sandbox):
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    assert_error(get(sandbox, demo.ACME_STORE), 401, "UNAUTHORIZED")


def test_a_token_without_settings_read_is_403(sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["analytics:read"])
    assert_error(get(sandbox, demo.ACME_STORE), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    "website_id",
    ["not-an-object-id", "6650a1f2c4e8b90012ab340", "6650a1f2c4e8b90012ab340g", "6650a1f2c4e8b90012ab34011"],
)
def test_a_website_id_that_is_not_an_object_id_is_400(sandbox, website_id):
    assert_error(get(sandbox, website_id), 400, "BAD_REQUEST")


def test_an_unknown_website_is_404(sandbox):
    assert_error(get(sandbox, demo.UNKNOWN_WEBSITE), 404, "NOT_FOUND")


def test_a_website_the_token_cannot_access_is_403(sandbox):
    assert_error(get(sandbox, demo.NIMBUS_LABS), 403, "FORBIDDEN")
    assert_error(get(sandbox, demo.HARBOR_HARDWARE), 403, "FORBIDDEN")  # the other token's website
    assert get(sandbox, demo.HARBOR_HARDWARE, demo.OTHER_DATAFAST_TOKEN.reveal()).status_code == 200


def test_the_checks_run_in_the_documented_order(sandbox):
    assert_error(get(sandbox, "bad-id", "dft_unknown_token_000000"), 401, "UNAUTHORIZED")
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), [])
    assert_error(get(sandbox, "bad-id"), 403, "FORBIDDEN")
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    assert_error(get(sandbox, "bad-id"), 400, "BAD_REQUEST")


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_are_405_in_the_envelope(sandbox, method):
    response = get(sandbox, demo.ACME_STORE, method=method)
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in response.headers["Allow"]


def test_a_trailing_slash_is_accepted(sandbox):
    response = requests.get(
        sandbox.url + path(demo.ACME_STORE) + "/",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
        allow_redirects=False,
    )
    assert response.status_code == 200


def test_an_unknown_path_under_the_api_is_404_in_the_envelope(sandbox):
    response = requests.get(sandbox.url + "/api/v1/admin/sites", timeout=5)
    assert_error(response, 404, "NOT_FOUND")
