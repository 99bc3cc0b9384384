"""Per-key per-endpoint request budgets (upstream/budget.py), over real HTTP against the sandbox's
documented rate limit, with several keys of one partner group, and shared through Redis."""

from __future__ import annotations

import threading
import time

import pytest

from integrations_app.chargebackstop import discovery
from integrations_app.chargebackstop.client import ChargebackStopClient, request_budget
from integrations_app.chargebackstop.models import PartnerAccess
from integrations_app.models import Health
from integrations_app.upstream import budget
from integrations_app.upstream.errors import TransientError
from integrations_app.upstream.secret import Secret
from tests import factories
from tests.sandbox.test_chargebackstop_partner import TEST_SCENARIO

GROUP = [Secret("live_partner"), Secret("live_partner_2")]  # two admin keys of one partner group


@pytest.fixture
def per_minute(settings, redis_clean):
    settings.CHARGEBACKSTOP_REQUESTS_PER_MINUTE = 600  # one request every 0.1 s per key and endpoint
    settings.CHARGEBACKSTOP_REQUEST_BURST = 1
    return 600


def _calls(key: Secret, times: int, record: list[tuple[Secret, float, str]]) -> None:
    client = ChargebackStopClient(key)
    for _ in range(times):
        try:
            client.list_organisations()
            outcome = "ok"
        except TransientError as error:
            outcome = error.reason
        record.append((key, time.monotonic(), outcome))


def test_each_keys_requests_are_spread_and_keys_do_not_wait_for_each_other(sandbox, per_minute):
    sandbox.state.reset(TEST_SCENARIO)
    record: list[tuple[Secret, float, str]] = []
    started = time.monotonic()
    threads = [threading.Thread(target=_calls, args=(key, 5, record)) for key in GROUP]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for key in GROUP:
        times = [at for who, at, _ in record if who is key]
        # The k-th request of a key is sent no sooner than k slots (60 / 600 s) after the start, so
        # its answer comes later still: counted from the start, a late answer on a loaded machine
        # is never mistaken for two requests too close together.
        since_start = [at - started for at in times]
        assert all(since >= 0.1 * k - 0.01 for k, since in enumerate(since_start)), since_start
    # Both keys ran side by side: five slots each take ~0.4 s, not the ~0.9 s of one queue.
    assert 0.35 < elapsed < 0.8, elapsed
    assert {outcome for *_, outcome in record} == {"ok"}


def test_the_budget_is_shared_by_every_process_through_redis(per_minute):
    key, endpoint = Secret("shared_key"), request_budget("GET /v1/organisations")
    assert budget.reserve(key, endpoint, longest=1) == 0
    budget._local.clear()  # another process: nothing of this one's memory
    wait = budget.reserve(key, endpoint, longest=1)
    assert 0.05 < wait <= 0.1  # the slot came from Redis
    with pytest.raises(budget.BudgetSpent):
        budget.reserve(key, endpoint, longest=0.01)


def test_several_keys_of_one_group_meet_the_documented_429_which_is_honoured_not_a_disconnect(
    sandbox, per_minute, settings
):
    """The sandbox counts per partner group (100 a minute, set to 6 here): two keys of one group
    spending their own budgets exceed it together. The 429s are transient; each holds that key's
    next request back by Retry-After (for every process), and no key is marked disconnected."""
    settings.UPSTREAM_RETRIES, settings.UPSTREAM_RETRY_AFTER_MAX = 0, 0.5
    sandbox.state.reset(TEST_SCENARIO)
    sandbox.state.rate_limit = 6
    record: list[tuple[Secret, float, str]] = []
    threads = [threading.Thread(target=_calls, args=(key, 5, record)) for key in GROUP]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outcomes = [outcome for *_, outcome in record]
    assert outcomes.count("ok") == 6  # exactly the group's allowance reached the API
    assert set(outcomes) == {"ok", "rate_limited"}
    # After its 429 a key is held back: within a short deadline it sends nothing at all.
    limited = next(key for key, _, outcome in record if outcome == "rate_limited")
    sandbox.state.reset_stats()
    with pytest.raises(TransientError) as raised:
        ChargebackStopClient(limited, deadline=time.monotonic() + 0.2).list_organisations()
    assert raised.value.reason == "rate_limited" and raised.value.code == budget.HELD_BACK
    assert sandbox.state.stats()["chargebackstop"]["requests"] == 0


@pytest.mark.django_db
def test_a_discovery_meeting_429_keeps_the_key_as_it_was(sandbox, per_minute, settings):
    settings.UPSTREAM_RETRIES = 0
    sandbox.state.reset(TEST_SCENARIO)
    sandbox.state.rate_limit = 1
    first, second = (factories.key(key, name=key.reveal()) for key in GROUP)
    assert discovery.discover(first).ok
    outcome = discovery.discover(second)
    assert outcome.access == PartnerAccess.UNKNOWN and "rate limited" in outcome.message
    second.refresh_from_db()
    assert second.health == Health.PENDING and second.partner_access == PartnerAccess.UNKNOWN
