"""The control endpoints under /_sandbox/ and the HTML control page."""

from __future__ import annotations

from typing import Any

import requests

from tests import demo

WEBSITE = f"/_sandbox/datafast/websites/{demo.ACME_STORE}"
INTEGRATION = f"/_sandbox/chargebackstop/integrations/{demo.ACME_ORDERS}"


def control(sandbox, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, sandbox.url + path, timeout=10, allow_redirects=False, **kwargs)


def website(sandbox) -> dict[str, Any]:
    return next(site for site in sandbox.state.websites() if site["id"] == demo.ACME_STORE)


def test_the_control_page_lists_websites_integrations_and_valid_credentials_with_labelled_buttons(sandbox):
    response = control(sandbox, "GET", "/_sandbox/")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.text
    assert '<html lang="en">' in page
    assert "Acme Store" in page
    assert "Acme Orders API" in page
    assert 'aria-label="Disconnect Stripe for Acme Store"' in page
    assert 'aria-label="Disable Acme Orders API"' in page
    assert 'aria-label="Enable Acme Legacy Orders"' in page
    # The demo credentials, so a new user can practise adding them in the dashboard; a revoked one is not offered.
    for credential in (demo.DATAFAST_TOKEN, demo.OTHER_DATAFAST_TOKEN, demo.PARTNER_KEY, demo.ORGANISATION_KEY):
        assert f"<code>{credential.reveal()}</code>" in page
    assert "Northwind support group" in page
    assert "Acme Store, Bluebird Books" in page  # what the first token can read
    sandbox.state.revoke_key(demo.GROUP_KEY.reveal())
    assert demo.GROUP_KEY.reveal() not in control(sandbox, "GET", "/_sandbox/").text
    assert control(sandbox, "GET", "/_sandbox").status_code == 200


def test_the_control_page_escapes_data(sandbox):
    sandbox.state.add_website(name="<script>alert(1)</script>")
    page = control(sandbox, "GET", "/_sandbox/").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_form_post_switches_a_provider_off_and_redirects_back(sandbox):
    response = control(sandbox, "POST", WEBSITE, data={"provider": "stripe", "connected": "false"})
    assert (response.status_code, response.headers["Location"]) == (303, "/_sandbox/")
    assert website(sandbox)["connected"]["stripe"] is False
    api = requests.get(
        f"{sandbox.url}/api/v1/admin/websites/{demo.ACME_STORE}/integrations",
        headers={"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"},
        timeout=5,
    )
    assert api.json()["data"][0]["stripe"] == {"connected": False}


def test_a_form_post_disables_and_re_enables_an_integration(sandbox):
    assert control(sandbox, "POST", INTEGRATION, data={"status": "DISABLED"}).status_code == 303
    assert sandbox.state.integrations(demo.ACME_ORG)[0]["status"] == "DISABLED"
    control(sandbox, "POST", INTEGRATION, data={"status": "ENABLED"})
    assert sandbox.state.integrations(demo.ACME_ORG)[0]["status"] == "ENABLED"


def test_json_website_changes(sandbox):
    body = control(sandbox, "POST", WEBSITE, json={"provider": "shopify", "connected": True}).json()
    assert body["connected"]["shopify"] is True
    body = control(sandbox, "POST", WEBSITE, json={"currency": "EUR", "paddle_key_expires_at": "2031-05-06T07:08:09Z"})
    assert body.json()["currency"] == "EUR"
    assert body.json()["paddle_key_expires_at"] == "2031-05-06T07:08:09.000Z"
    assert (
        control(sandbox, "POST", WEBSITE, json={"paddle_key_expires_at": None}).json()["paddle_key_expires_at"] is None
    )
    assert control(sandbox, "POST", WEBSITE, json={"deleted": True}).json() == {"deleted": demo.ACME_STORE}
    assert all(site["id"] != demo.ACME_STORE for site in sandbox.state.websites())


def test_json_integration_changes(sandbox):
    assert control(sandbox, "POST", INTEGRATION, json={"name": "Renamed"}).json()["name"] == "Renamed"
    assert control(sandbox, "POST", INTEGRATION, json={"status": "DISABLED"}).json()["status"] == "DISABLED"
    assert control(sandbox, "POST", INTEGRATION, json={"deleted": True}).json() == {"deleted": demo.ACME_ORDERS}
    assert len(sandbox.state.integrations(demo.ACME_ORG)) == 3


def test_credentials_are_revoked_from_the_body_never_the_url(sandbox):
    assert control(sandbox, "POST", "/_sandbox/datafast/tokens/revoke", json={"token": demo.DATAFAST_TOKEN.reveal()}).ok
    assert control(sandbox, "POST", "/_sandbox/chargebackstop/keys/revoke", json={"key": demo.PARTNER_KEY.reveal()}).ok
    headers = {"Authorization": f"Bearer {demo.PARTNER_KEY.reveal()}"}
    assert requests.get(sandbox.url + "/v1/integrations/", headers=headers, timeout=5).status_code == 401
    unknown = control(sandbox, "POST", "/_sandbox/chargebackstop/keys/revoke", json={"key": "cbs_secret_but_unknown"})
    assert unknown.status_code == 404
    assert "cbs_secret_but_unknown" not in unknown.text


def test_latency_page_size_faults_and_stats_over_http(sandbox):
    assert control(sandbox, "POST", "/_sandbox/latency", json={"seconds": 0.01}).json() == {"latency": 0.01}
    assert sandbox.state.latency == 0.01
    assert control(sandbox, "POST", "/_sandbox/max-page-size", json={"size": 3}).json() == {"max_page_size": 3}
    rule = {"path": "/v1/", "kind": "status", "status": 503, "times": 2, "retry_after": 1}
    assert control(sandbox, "POST", "/_sandbox/faults", json=rule).json() == [rule | {"method": None}]
    assert control(sandbox, "GET", "/_sandbox/faults").json() == [rule | {"method": None}]
    headers = {"Authorization": f"Bearer {demo.PARTNER_KEY.reveal()}"}
    assert requests.get(sandbox.url + "/v1/integrations/", headers=headers, timeout=5).status_code == 503
    assert control(sandbox, "DELETE", "/_sandbox/faults").json() == []
    page = requests.get(sandbox.url + "/v1/integrations/?limit=10", headers=headers, timeout=5).json()
    assert len(page["items"]) == 3
    stats = control(sandbox, "GET", "/_sandbox/stats").json()
    assert stats["chargebackstop"]["requests"] == 2
    assert control(sandbox, "POST", "/_sandbox/stats/reset").json()["chargebackstop"]["requests"] == 0


def test_reset_loads_a_named_or_generated_scenario(sandbox):
    assert control(sandbox, "POST", "/_sandbox/reset", json={"scenario": "docs"}).json() == {"scenario": "docs"}
    assert [item["id"] for item in sandbox.state.integrations()] == ["int_abc123", "int_def789"]
    generated = {"websites": 30, "tokens": 3, "organisations": 4, "integrations": 12, "partner_keys": 2}
    assert control(sandbox, "POST", "/_sandbox/reset", json={"generated": generated}).json() == {"scenario": "custom"}
    state = control(sandbox, "GET", "/_sandbox/state").json()
    assert (len(state["websites"]), len(state["organisations"]), len(state["integrations"])) == (30, 4, 12)
    assert control(sandbox, "POST", "/_sandbox/reset", data={"scenario": "empty"}).status_code == 303
    assert sandbox.state.websites() == []


def test_bad_control_requests_are_refused_plainly(sandbox):
    assert control(sandbox, "POST", "/_sandbox/reset", json={"scenario": "nope"}).status_code == 400
    assert control(sandbox, "POST", "/_sandbox/reset", json={"generated": {"websites": 1}}).status_code == 400
    assert control(sandbox, "POST", "/_sandbox/latency", json={}).status_code == 400
    assert control(sandbox, "POST", "/_sandbox/latency", json={"seconds": -1}).status_code == 400
    assert control(sandbox, "POST", "/_sandbox/faults", json={"path": "/api/", "kind": "boom"}).status_code == 400
    assert (
        control(
            sandbox, "POST", "/_sandbox/latency", data="[1]", headers={"Content-Type": "application/json"}
        ).status_code
        == 400
    )
    assert control(sandbox, "POST", WEBSITE, json={"provider": "stripe", "connected": "maybe"}).status_code == 400
    assert control(sandbox, "POST", "/_sandbox/datafast/websites/0123456789abcdef01234567", json={}).status_code == 404
    assert (
        control(sandbox, "POST", "/_sandbox/chargebackstop/integrations/int_nope", json={"name": "x"}).status_code
        == 404
    )
    assert control(sandbox, "GET", "/_sandbox/nothing-here").status_code == 404
    assert control(sandbox, "GET", "/_sandbox/reset").status_code == 405
    assert control(sandbox, "POST", "/_sandbox/").status_code == 405


def test_control_endpoints_are_not_reachable_under_the_api_paths(sandbox):
    for prefix in ("/api", "/api/v1/admin/websites", "/v1", "/v1/integrations"):
        response = control(sandbox, "GET", f"{prefix}/_sandbox/stats")
        assert response.status_code == 404
        assert "requests" not in response.text
    assert control(sandbox, "GET", "/elsewhere").status_code == 404


def test_the_rate_limit_is_set_over_http(sandbox):
    assert control(sandbox, "GET", "/_sandbox/state").json()["rate_limit"] == 100
    assert control(sandbox, "POST", "/_sandbox/rate-limit", json={"per_minute": 1}).json() == {"rate_limit": 1}
    headers = {"Authorization": f"Bearer {demo.PARTNER_KEY.reveal()}"}
    statuses = [requests.get(sandbox.url + "/v1/organisations", headers=headers, timeout=5).status_code for _ in "ab"]
    assert statuses == [200, 429]
    assert control(sandbox, "POST", "/_sandbox/rate-limit", json={"per_minute": 0}).status_code == 400


def test_the_control_page_lists_the_websites_only_discovery_finds(sandbox):
    page = control(sandbox, "GET", "/_sandbox/").text
    assert "Acme Outlet" in page
    assert "Marlow Music School" in page
