"""The simulated DataFast websites listing over real HTTP: the documented body, the token's allowlist
with the caller's role, the `websites:read` permission and the error envelope."""

from __future__ import annotations

import pytest
import requests

from sandbox.scenarios import DEMO
from tests import demo
from tests.sandbox.test_datafast import assert_error

WEBSITES = "/api/v1/admin/websites"
ACME_OUTLET, ACME_LABS, MARLOW_MUSIC = (
    "6650a1f2c4e8b90012ab340d",
    "6650a1f2c4e8b90012ab340e",
    "6650a1f2c4e8b90012ab340f",
)


def websites(sandbox, token: str | None = demo.DATAFAST_TOKEN.reveal(), **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(kwargs.pop("method", "GET"), sandbox.url + WEBSITES, headers=headers, timeout=5, **kwargs)


def listed(sandbox, token: str = demo.DATAFAST_TOKEN.reveal()) -> list[dict[str, object]]:
    response = websites(sandbox, token)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body.keys() == {"status", "data"}
    assert body["status"] == "success"
    data: list[dict[str, object]] = body["data"]
    return data


def test_each_website_has_the_documented_fields_in_order(sandbox):
    data = listed(sandbox)
    assert all(list(site) == ["_id", "domain", "name", "trackingId", "timezone", "currency", "role"] for site in data)
    assert data[0] == {
        "_id": demo.ACME_STORE,
        "domain": "acme-store.example",
        "name": "Acme Store",
        "trackingId": "dfid_ab3401",
        "timezone": "UTC",
        "currency": "USD",
        "role": "owner",
    }
    outlet = next(site for site in data if site["_id"] == ACME_OUTLET)
    assert outlet["domain"] == "outlet.acme-store.example"
    assert outlet["timezone"] == "America/New_York"


def test_a_token_lists_its_allowlist_only_the_discoverable_websites_included(sandbox):
    first, second = DEMO["datafast"]["tokens"]
    ids = [site["_id"] for site in listed(sandbox)]
    assert ids == [*first["websites"], ACME_OUTLET, ACME_LABS]  # the scenario's order
    other = [site["_id"] for site in listed(sandbox, demo.OTHER_DATAFAST_TOKEN.reveal())]
    assert other == [*second["websites"], MARLOW_MUSIC]
    assert demo.NIMBUS_LABS not in ids + other  # it exists, but no token may read it
    assert demo.HARBOR_HARDWARE not in ids


def test_a_website_added_to_a_token_is_listed_and_one_removed_is_not(sandbox):
    added = sandbox.state.add_website(tokens=[demo.DATAFAST_TOKEN.reveal()], name="Zephyr Tea")
    sandbox.state.remove_website(demo.ACME_STORE)
    ids = [site["_id"] for site in listed(sandbox)]
    assert added in ids
    assert demo.ACME_STORE not in ids


def test_role_is_the_callers_role_on_each_website(sandbox):
    roles = {site["_id"]: site["role"] for site in listed(sandbox)}
    assert roles[demo.ACME_STORE] == "owner"
    assert roles["6650a1f2c4e8b90012ab3406"] == "member"
    assert roles[ACME_LABS] == "viewer"
    assert set(roles.values()) == {"owner", "member", "viewer"}


def test_a_website_without_a_display_name_lists_name_null(sandbox):
    labs = next(site for site in listed(sandbox) if site["_id"] == ACME_LABS)
    assert labs["name"] is None
    assert labs["domain"] == "labs.acme-store.example"


def test_the_discoverable_websites_answer_the_integrations_endpoint_too(sandbox):
    response = requests.get(
        sandbox.url + f"{WEBSITES}/{ACME_OUTLET}/integrations",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["data"][0]["stripe"] == {"connected": True}


def test_a_token_without_websites_read_is_403_and_still_reads_integrations(sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    response = websites(sandbox)
    assert_error(response, 403, "FORBIDDEN")
    assert "websites:read" in response.json()["error"]["message"]
    integrations = requests.get(
        sandbox.url + f"{WEBSITES}/{demo.ACME_STORE}/integrations",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
    )
    assert integrations.status_code == 200


def test_websites_read_alone_lists_but_does_not_read_integrations(sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["websites:read"])
    assert len(listed(sandbox)) == 9
    response = requests.get(
        sandbox.url + f"{WEBSITES}/{demo.ACME_STORE}/integrations",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
    )
    assert_error(response, 403, "FORBIDDEN")


@pytest.mark.parametrize(("token", "message"), [(None, "Authorization"), ("dft_nope", "Invalid")])
def test_a_missing_or_unknown_token_is_401(sandbox, token, message):
    response = websites(sandbox, token)
    assert_error(response, 401, "UNAUTHORIZED")
    assert message in response.json()["error"]["message"]


def test_a_revoked_token_is_401(sandbox):
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    assert_error(websites(sandbox), 401, "UNAUTHORIZED")


def test_a_write_is_405_with_allow_and_a_trailing_slash_is_the_same_listing(sandbox):
    response = websites(sandbox, method="POST")
    assert_error(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == "GET, HEAD"
    slash = requests.get(
        sandbox.url + WEBSITES + "/", headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"}, timeout=5
    )
    assert slash.status_code == 200
    assert slash.json() == {"status": "success", "data": listed(sandbox)}
