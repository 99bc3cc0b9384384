"""Fault injection, latency and request stats, over real HTTP (tiny delays keep this fast)."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests import demo

DATAFAST = f"/api/v1/admin/websites/{demo.ACME_STORE}/integrations"
LISTING = "/v1/integrations/"


def datafast(sandbox, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"}
    return requests.get(sandbox.url + DATAFAST, headers=headers, timeout=5, **kwargs)


def chargebackstop(sandbox, method: str = "GET", **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {demo.PARTNER_KEY.reveal()}"}
    return requests.request(method, sandbox.url + LISTING, headers=headers, timeout=5, **kwargs)


def timed(call) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


# --- status ----------------------------------------------------------------------------------


def test_a_status_fault_answers_in_each_apis_own_envelope(sandbox):
    sandbox.state.faults.add("/api/", "status", status=503, retry_after=7)
    sandbox.state.faults.add("/v1/", "status", status=429)
    response = datafast(sandbox)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "7"
    assert response.json() == {
        "status": "error",
        "error": {"code": "SERVICE_UNAVAILABLE", "message": "Service unavailable"},
    }
    response = chargebackstop(sandbox)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers
    assert response.json() == {"errors": [{"code": "RATE_LIMITED", "message": "Too many requests"}]}


def test_a_status_fault_can_carry_its_own_body(sandbox):
    sandbox.state.faults.add(DATAFAST, "status", status=500, body={"oops": True}, times=1)
    sandbox.state.faults.add(DATAFAST, "status", status=502, body="<html>Bad gateway</html>", times=1)
    assert datafast(sandbox).json() == {"oops": True}
    response = datafast(sandbox)
    assert (response.status_code, response.text) == (502, "<html>Bad gateway</html>")
    assert response.headers["Content-Type"].startswith("text/plain")


def test_a_status_fault_skips_the_handler(sandbox):
    sandbox.state.faults.add(LISTING, "status", status=500, method="POST", times=1)
    body = {"organisation_id": demo.ACME_ORG, "name": "x", "type": "CUSTOM_ORDERS", "merchant_ids": ["mrch_acme_us"]}
    before = len(sandbox.state.integrations())
    assert chargebackstop(sandbox, "POST", json=body).status_code == 500
    assert len(sandbox.state.integrations()) == before
    assert chargebackstop(sandbox, "POST", json=body).status_code == 201


# --- matching and counting -------------------------------------------------------------------


def test_times_uses_a_rule_that_many_times_then_it_is_gone(sandbox):
    sandbox.state.faults.add("/api/", "status", status=500, times=2)
    assert [datafast(sandbox).status_code for _ in range(4)] == [500, 500, 200, 200]
    assert sandbox.state.faults.describe() == []


def test_times_none_means_every_request(sandbox):
    sandbox.state.faults.add("/api/", "status", status=500)
    assert {datafast(sandbox).status_code for _ in range(5)} == {500}
    sandbox.state.faults.clear()
    assert datafast(sandbox).status_code == 200


def test_times_is_exact_under_concurrent_requests(sandbox):
    sandbox.state.faults.add("/api/", "status", status=503, times=10)
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(lambda _: datafast(sandbox).status_code, range(48)))
    assert statuses.count(503) == 10
    assert statuses.count(200) == 38


def test_rules_match_by_path_prefix_and_method(sandbox):
    sandbox.state.faults.add("/v1/", "status", status=500, method="post")
    assert datafast(sandbox).status_code == 200  # another API
    assert chargebackstop(sandbox).status_code == 200  # another method
    assert chargebackstop(sandbox, "POST", json={}).status_code == 500


def test_the_first_matching_outcome_wins_and_only_it_is_counted(sandbox):
    sandbox.state.faults.add("/api/", "status", status=500, times=1)
    sandbox.state.faults.add("/api/", "status", status=502, times=1)
    assert [datafast(sandbox).status_code for _ in range(3)] == [500, 502, 200]


@pytest.mark.parametrize(
    ("args", "params"),
    [
        (("/api/", "explode"), {}),
        (("/api/", "status"), {}),
        (("/api/", "status"), {"status": 99}),
        (("/api/", "latency"), {"seconds": -1}),
        (("/api/", "latency"), {"seconds": 1, "colour": "red"}),
        (("/api/", "drop"), {"times": 0}),
        (("api", "drop"), {}),
        (("/api/", "missing_field"), {"field": ""}),
        (("/api/", "status"), {"status": 500, "body": 3}),
    ],
)
def test_a_bad_rule_is_refused_when_added(sandbox, args, params):
    with pytest.raises(ValueError):
        sandbox.state.faults.add(*args, **params)
    assert sandbox.state.faults.describe() == []


# --- latency ---------------------------------------------------------------------------------


def test_a_latency_fault_delays_then_answers_normally(sandbox):
    sandbox.state.faults.add("/api/", "latency", seconds=0.2, times=1)
    response, elapsed = timed(lambda: datafast(sandbox))
    assert response.status_code == 200
    assert elapsed >= 0.2
    assert timed(lambda: datafast(sandbox))[1] < 0.2


def test_latency_stacks_with_an_outcome_fault(sandbox):
    sandbox.state.faults.add("/api/", "latency", seconds=0.15)
    sandbox.state.faults.add("/api/", "status", status=503, times=1)
    response, elapsed = timed(lambda: datafast(sandbox))
    assert (response.status_code, elapsed >= 0.15) == (503, True)


def test_state_latency_slows_every_api_request_but_not_control(sandbox):
    sandbox.state.latency = 0.15
    assert timed(lambda: datafast(sandbox))[1] >= 0.15
    assert timed(lambda: chargebackstop(sandbox))[1] >= 0.15
    assert timed(lambda: requests.get(sandbox.url + "/_sandbox/stats", timeout=5))[1] < 0.15
    with pytest.raises(ValueError):
        sandbox.state.latency = -1


# --- bad answers -----------------------------------------------------------------------------


def test_malformed_is_a_200_that_is_not_json(sandbox):
    sandbox.state.faults.add("/api/", "malformed")
    response = datafast(sandbox)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("data.0.stripe", lambda body: "stripe" not in body["data"][0] and "polar" in body["data"][0]),
        ("data.0.paddle.keyExpiresAt", lambda body: body["data"][0]["paddle"] == {"connected": True}),
        ("status", lambda body: "status" not in body),
        ("data.0.nothing.here", lambda body: body["data"][0]["stripe"] == {"connected": True}),
    ],
)
def test_missing_field_deletes_a_dotted_path_from_the_datafast_answer(sandbox, field, check):
    sandbox.state.faults.add("/api/", "missing_field", field=field)
    response = datafast(sandbox)
    assert response.status_code == 200
    assert check(response.json())


def test_missing_field_deletes_from_the_chargebackstop_answer(sandbox):
    sandbox.state.faults.add("/v1/", "missing_field", field="count", times=1)
    sandbox.state.faults.add("/v1/", "missing_field", field="items.0.links", times=1)
    assert chargebackstop(sandbox).json().keys() == {"items"}
    body = chargebackstop(sandbox).json()
    assert "links" not in body["items"][0]
    assert "links" in body["items"][1]


def test_empty_data_sends_a_success_with_no_data(sandbox):
    sandbox.state.faults.add("/api/", "empty_data")
    assert datafast(sandbox).json() == {"status": "success", "data": []}


def test_drop_closes_the_connection_without_an_answer(sandbox):
    sandbox.state.faults.add("/api/", "drop", times=1)
    with pytest.raises(requests.ConnectionError):
        datafast(sandbox)
    assert datafast(sandbox).status_code == 200
    assert sandbox.state.stats()["datafast"] == {"requests": 2, "in_flight": 0, "peak_in_flight": 1}


def test_trickle_sends_the_whole_answer_slowly(sandbox):
    sandbox.state.faults.add("/api/", "trickle", seconds=0.3)
    response, elapsed = timed(lambda: datafast(sandbox))
    assert response.status_code == 200
    assert response.json()["status"] == "success"
    assert elapsed >= 0.3
    assert int(response.headers["Content-Length"]) == len(response.content)


def test_trickle_sends_the_first_bytes_long_before_the_last(sandbox):
    sandbox.state.faults.add("/api/", "trickle", seconds=0.4)
    started = time.monotonic()
    with datafast(sandbox, stream=True) as response:
        first = next(response.iter_content(chunk_size=1))
        first_at = time.monotonic() - started
        rest = b"".join(response.iter_content(chunk_size=1))
    assert first == b"{"
    assert first_at < 0.2
    assert json.loads(first + rest)["status"] == "success"


# --- stats -----------------------------------------------------------------------------------


def test_stats_count_requests_per_api_and_the_peak_in_flight(sandbox):
    sandbox.state.latency = 0.3
    barrier = threading.Barrier(5)

    def together(_: int) -> int:
        barrier.wait()
        return datafast(sandbox).status_code

    with ThreadPoolExecutor(max_workers=5) as pool:
        assert set(pool.map(together, range(5))) == {200}
    chargebackstop(sandbox)
    stats = sandbox.state.stats()
    assert stats["datafast"] == {"requests": 5, "in_flight": 0, "peak_in_flight": 5}
    assert stats["chargebackstop"] == {"requests": 1, "in_flight": 0, "peak_in_flight": 1}
    sandbox.state.reset_stats()
    assert sandbox.state.stats()["datafast"] == {"requests": 0, "in_flight": 0, "peak_in_flight": 0}


def test_a_trickling_request_is_in_flight_until_its_last_byte(sandbox):
    sandbox.state.faults.add("/api/", "trickle", seconds=0.4)
    worker = threading.Thread(target=datafast, args=(sandbox,))
    worker.start()
    time.sleep(0.15)
    assert sandbox.state.stats()["datafast"]["in_flight"] == 1
    worker.join()
    assert sandbox.state.stats()["datafast"]["in_flight"] == 0


def test_control_requests_are_not_counted(sandbox):
    requests.get(sandbox.url + "/_sandbox/stats", timeout=5)
    assert sandbox.state.stats()["datafast"]["requests"] == sandbox.state.stats()["chargebackstop"]["requests"] == 0


def test_reset_clears_faults_latency_page_size_and_stats(sandbox):
    sandbox.state.faults.add("/api/", "status", status=500)
    sandbox.state.latency = 0.05
    sandbox.state.max_page_size = 1
    datafast(sandbox)
    sandbox.state.reset("demo")
    assert sandbox.state.faults.describe() == []
    assert (sandbox.state.latency, sandbox.state.max_page_size) == (0, 100)
    assert sandbox.state.stats()["datafast"]["requests"] == 0
    assert datafast(sandbox).status_code == 200


# --- the discovery listings ------------------------------------------------------------------

WEBSITES, ORGANISATIONS, MERCHANTS = "/api/v1/admin/websites", "/v1/organisations", "/v1/merchants"


def discovery(sandbox, path: str, **params: int) -> requests.Response:
    secret = demo.DATAFAST_TOKEN if path.startswith("/api/") else demo.PARTNER_KEY
    headers = {"Authorization": f"Bearer {secret.reveal()}"}
    return requests.get(sandbox.url + path, headers=headers, params=params, timeout=5)


@pytest.mark.parametrize("path", [WEBSITES, ORGANISATIONS, MERCHANTS])
def test_status_faults_reach_the_discovery_listings_in_their_apis_envelope(sandbox, path):
    sandbox.state.faults.add(path, "status", status=503, retry_after=4, times=1)
    response = discovery(sandbox, path)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "4")
    body = response.json()
    error = body["error"] if path == WEBSITES else body["errors"][0]  # DataFast's envelope, or ChargebackStop's
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert discovery(sandbox, path).status_code == 200


def test_an_integrations_rule_with_its_trailing_slash_leaves_the_websites_listing_alone(sandbox):
    sandbox.state.faults.add(WEBSITES + "/", "status", status=500)
    assert discovery(sandbox, WEBSITES).status_code == 200
    assert datafast(sandbox).status_code == 500


@pytest.mark.parametrize(("path", "name"), [(WEBSITES, "data"), (ORGANISATIONS, "items"), (MERCHANTS, "items")])
def test_empty_data_and_missing_field_reshape_the_discovery_listings(sandbox, path, name):
    sandbox.state.faults.add(path, "empty_data", times=1)
    assert discovery(sandbox, path).json()[name] == []
    field = {WEBSITES: "domain", ORGANISATIONS: "mode", MERCHANTS: "type"}[path]
    sandbox.state.faults.add(path, "missing_field", field=f"{name}.0.{field}", times=1)
    first, second = discovery(sandbox, path).json()[name][:2]
    assert field not in first
    assert field in second


@pytest.mark.parametrize("kind", ["malformed", "drop"])
def test_broken_answers_reach_the_discovery_listings(sandbox, kind):
    sandbox.state.faults.add(ORGANISATIONS, kind, times=1)
    if kind == "drop":
        with pytest.raises(requests.ConnectionError):
            discovery(sandbox, ORGANISATIONS)
    else:
        with pytest.raises(ValueError):
            discovery(sandbox, ORGANISATIONS).json()


@pytest.mark.parametrize(("path", "prefix"), [(ORGANISATIONS, "org_huge_"), (MERCHANTS, "mrch_huge_")])
def test_a_huge_listing_of_organisations_or_merchants(sandbox, path, prefix):
    sandbox.state.faults.add(path, "huge_listing", count=10**6, items=50, merchant_ids=0)
    body = discovery(sandbox, path, offset=100).json()
    assert body["count"] == 10**6
    assert len(body["items"]) == 50
    assert body["items"][0]["id"] == f"{prefix}100"


def test_a_latency_fault_slows_the_websites_listing(sandbox):
    sandbox.state.faults.add(WEBSITES, "latency", seconds=0.2, times=1)
    response, took = timed(lambda: discovery(sandbox, WEBSITES))
    assert response.status_code == 200
    assert took >= 0.2
