"""Scenario data, its validation on load, the generated benchmark scenario, and the server's life."""

from __future__ import annotations

import copy
import json
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.scenarios import DEMO, generated_scenario
from sandbox.server import SandboxServer
from sandbox.state import SandboxState
from sandbox.world import ScenarioError, World


def test_the_demo_scenario_has_what_the_demo_needs():
    websites = DEMO["datafast"]["websites"]
    tokens = DEMO["datafast"]["tokens"]
    assert len(websites) >= 12
    assert all(site["name"] for site in websites)
    assert {site["currency"] for site in websites} == {"USD", "EUR", "GBP"}
    assert len(tokens) == 2
    assert all(token["token"].startswith("dft_") and token["label"] for token in tokens)
    readable = {site_id for token in tokens for site_id in token["websites"]}
    assert len({site["id"] for site in websites} - readable) == 1  # one website no token may read
    keys = DEMO["chargebackstop"]["keys"]
    assert {(key["level"], key.get("admin")) for key in keys} == {
        ("partner", True),
        ("partner", False),
        ("organisation", None),
    }
    assert all(key["key"] and key["label"] for key in keys)
    assert all(key["organisation_id"] for key in keys if key["level"] == "organisation")
    integrations = DEMO["chargebackstop"]["integrations"]
    assert {"CUSTOM_ORDERS", "STRIPE", "SHOPIFY"} <= {item["type"] for item in integrations}
    assert [item["status"] for item in integrations].count("DISABLED") == 2
    organisations = DEMO["chargebackstop"]["organisations"]
    with_integrations = {item["organisation_id"] for item in integrations}
    assert len(with_integrations) == 3
    assert len({org["id"] for org in organisations} - with_integrations) == 2  # only a listing shows them
    # Websites only a discovery finds: readable by a token, yet not registered by load_demo.
    discoverable = DEMO["datafast"]["discoverable_websites"]
    assert {site["id"] for site in discoverable} == {w for token in tokens for w in token["discoverable_websites"]}
    assert not {site["id"] for site in discoverable} & ({site["id"] for site in websites} | readable)
    assert all("websites:read" in token["scopes"] for token in tokens)


def test_demo_paddle_expiries_are_relative_to_load_time():
    now = datetime.now(UTC)
    world = World.from_scenario(DEMO, now=now)
    expiries = sorted(
        (site.paddle_key_expires_at for site in world.websites.values() if site.connected["paddle"]),
        key=lambda when: when or datetime.max.replace(tzinfo=UTC),
    )
    expired, expiring = expiries[0], expiries[1]
    assert expired is not None and expiring is not None
    assert expired < now  # one expired
    assert timedelta(days=4, hours=23) < expiring - now <= timedelta(days=5)  # one expiring soon
    assert expiries[2] is None  # one with no expiry


def test_the_state_works_on_a_copy_of_the_scenario():
    pristine = copy.deepcopy(DEMO)
    state = SandboxState("demo")
    state.set_connected("6650a1f2c4e8b90012ab3401", "stripe", False)
    state.rename_integration("int_9c1e7a20b4d1", "Changed")
    assert pristine == DEMO


def test_a_scenario_dict_loads():
    state = SandboxState({"datafast": {"websites": [{"id": "a" * 24, "name": "Only"}]}})
    assert state.scenario_name == "custom"
    assert state.websites()[0]["connected"] == dict.fromkeys(
        ["stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce"], False
    )


def website(**fields) -> dict[str, Any]:
    return {"datafast": {"websites": [{"id": "a" * 24, "name": "Site", **fields}]}}


def organisation(*integrations: dict[str, Any], keys: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {
        "chargebackstop": {
            "organisations": [{"id": "org_1", "partner_id": "prt_1", "merchant_ids": ["mrch_1"]}],
            "keys": list(keys),
            "integrations": list(integrations),
        }
    }


INTEGRATION = {"id": "int_1", "organisation_id": "org_1", "name": "I", "type": "STRIPE", "merchant_ids": ["mrch_1"]}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"datafst": {}}, "unknown keys"),
        (website(id="not-an-object-id"), r"websites\[0\].id"),
        (website(connected=["paypal"]), "unknown providers"),
        (website(currency="usd"), "currency"),
        (website(colour="red"), "unknown keys"),
        (website(paddle_key_expires_at="soon"), "ISO 8601"),
        ({"datafast": {"tokens": [{"token": "dft_x", "websites": ["b" * 24]}]}}, "unknown ids"),
        ({"datafast": {"tokens": [{"token": "abc", "websites": []}]}}, "dft_"),
        (organisation(INTEGRATION, INTEGRATION), "duplicate id"),
        (organisation(INTEGRATION | {"merchant_ids": ["mrch_2"]}), "not merchants of org_1"),
        (organisation(INTEGRATION | {"status": "PAUSED"}), "status"),
        (organisation(INTEGRATION | {"organisation_id": "org_2"}), "unknown ids"),
        (organisation(keys=({"key": "k", "level": "group"},)), "level"),
        (organisation(keys=({"key": "k", "level": "organisation", "organisation_id": "org_9"},)), "unknown ids"),
        (
            organisation(
                keys=({"key": "k", "level": "partner", "partner_id": "prt_2", "organisation_ids": ["org_1"]},)
            ),
            "another partner",
        ),
    ],
)
def test_a_bad_scenario_fails_loudly_naming_the_entry(scenario, message):
    with pytest.raises(ScenarioError, match=message):
        SandboxState(scenario)


def test_an_unknown_scenario_name_is_refused():
    with pytest.raises(ValueError, match="unknown scenario"):
        SandboxState("nope")


def test_the_generated_scenario_is_big_deterministic_and_valid():
    params = {"websites": 5000, "tokens": 20, "organisations": 200, "integrations": 1000, "partner_keys": 5}
    scenario = generated_scenario(**params)
    assert scenario == generated_scenario(**params)
    assert scenario != generated_scenario(**params, seed=1)
    world = World.from_scenario(scenario)
    assert (len(world.websites), len(world.tokens), len(world.organisations)) == (5000, 20, 200)
    assert (len(world.integrations), len(world.keys)) == (1000, 5)
    assert {len(token.websites) for token in world.tokens.values()} == {250}
    assert {len(world.visible_integrations(key)) for key in world.keys.values()} == {200}


def test_the_generated_scenario_is_served(sandbox):
    sandbox.state.reset(generated_scenario(websites=10, tokens=2, organisations=6, integrations=30, partner_keys=3))
    token = generated_scenario(websites=10, tokens=2, organisations=6, integrations=30, partner_keys=3)["datafast"][
        "tokens"
    ][1]
    response = requests.get(
        f"{sandbox.url}/api/v1/admin/websites/{token['websites'][0]}/integrations",
        headers={"Authorization": f"Bearer {token['token']}"},
        timeout=5,
    )
    assert response.status_code == 200


@pytest.mark.parametrize("bad", [{"websites": -1}, {"tokens": 1.5}, {"integrations": 3, "organisations": 0}])
def test_generated_scenario_refuses_bad_counts(bad):
    params = {"websites": 1, "tokens": 1, "organisations": 1, "integrations": 1, "partner_keys": 1} | bad
    with pytest.raises(ValueError):
        generated_scenario(**params)


def test_a_server_starts_on_a_free_port_and_stop_frees_it():
    server = SandboxServer(host="127.0.0.1", port=0, scenario="empty")
    server.start()
    port = server.port
    assert server.url == f"http://127.0.0.1:{port}"
    assert requests.get(server.url + "/_sandbox/stats", timeout=5).status_code == 200
    server.stop()
    server.stop()  # idempotent
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=2)


def test_a_server_is_a_context_manager():
    with SandboxServer(scenario="docs") as server:
        assert requests.get(server.url + "/v1/integrations/", timeout=5).status_code == 401


def test_the_readme_lists_every_demo_credential():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    credentials = [token["token"] for token in DEMO["datafast"]["tokens"]]
    credentials += [key["key"] for key in DEMO["chargebackstop"]["keys"]]
    assert [credential for credential in credentials if f"`{credential}`" not in readme] == []


def test_a_saved_world_reads_back_as_the_same_world():
    world = World.from_scenario(DEMO)
    world.tokens[DEMO["datafast"]["tokens"][0]["token"]].revoked = True
    assert World.from_scenario(json.loads(json.dumps(world.as_scenario()))) == world


def test_the_sandbox_imports_nothing_of_the_product():
    """It restates the API contract on purpose: a client that drifted from the docs must fail against it."""
    root = Path(__file__).resolve().parents[2] / "sandbox"
    imports = [
        (path.name, line)
        for path in root.rglob("*.py")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith(("import ", "from ")) and ("integrations_app" in line or "django" in line)
    ]
    assert imports == []


# --- discovery data --------------------------------------------------------------------------

SITE = {"id": "a" * 24, "name": "Site A"}


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ({"datafast": {"websites": [SITE | {"timezone": "Mars/Olympus"}]}}, "IANA"),
        ({"datafast": {"websites": [SITE | {"unnamed": "yes"}]}}, "unnamed"),
        ({"datafast": {"websites": [SITE | {"discovery_only": True}]}}, "unknown keys"),
        (
            {
                "datafast": {
                    "websites": [SITE],
                    "tokens": [{"token": "dft_x", "websites": [], "roles": {"a" * 24: "x"}}],
                }
            },
            "roles",
        ),
        (
            {
                "datafast": {
                    "websites": [SITE],
                    "tokens": [{"token": "dft_x", "websites": [], "roles": {"a" * 24: "owner"}}],
                }
            },
            "not in its allowlist",
        ),
        (
            {"datafast": {"tokens": [{"token": "dft_x", "websites": [], "discoverable_websites": ["b" * 24]}]}},
            "unknown",
        ),
        ({"chargebackstop": {"organisations": [{"id": "o", "mode": "DEMO"}]}}, "mode"),
        ({"chargebackstop": {"organisations": [{"id": "o", "name": "Shop", "mode": "TEST"}]}}, "[TEST]"),
        ({"chargebackstop": {"organisations": [{"id": "o", "name": "[TEST] Shop"}]}}, "[TEST]"),
        (
            {
                "chargebackstop": {
                    "organisations": [
                        {"id": "o1", "partner_id": "p"},
                        {"id": "o2", "name": "[TEST] o2", "partner_id": "p", "mode": "TEST"},
                    ]
                }
            },
            "one mode",
        ),
        (
            {
                "chargebackstop": {
                    "organisations": [{"id": "o1", "merchant_ids": ["m1"]}],
                    "merchants": [{"id": "m2", "organisation_id": "o1"}],
                }
            },
            "does not list 'm2'",
        ),
        ({"chargebackstop": {"merchants": [{"id": "m1", "organisation_id": "o9"}]}}, "unknown ids"),
    ],
)
def test_bad_discovery_data_fails_naming_the_entry(scenario, message):
    with pytest.raises(ScenarioError, match=re.escape(message)):
        World.from_scenario(scenario)


def test_discoverable_websites_and_merchants_survive_a_round_trip():
    world = World.from_scenario(DEMO)
    again = World.from_scenario(json.loads(json.dumps(world.as_scenario())))
    assert again == world
    assert [site.id for site in again.websites.values() if site.discovery_only] == [
        site["id"] for site in DEMO["datafast"]["discoverable_websites"]
    ]
    assert again.as_scenario()["datafast"]["discoverable_websites"][0]["name"] == "Acme Outlet"


def test_a_listed_merchant_without_details_gets_defaults():
    world = World.from_scenario({"chargebackstop": {"organisations": [{"id": "o1", "merchant_ids": ["m1", "m2"]}]}})
    assert [(m.id, m.organisation_id, m.name, m.type) for m in world.merchants.values()] == [
        ("m1", "o1", "m1", "GENERIC"),
        ("m2", "o1", "m2", "GENERIC"),
    ]
    assert world.merchants["m1"].created_at < world.merchants["m2"].created_at  # type: ignore[operator]
