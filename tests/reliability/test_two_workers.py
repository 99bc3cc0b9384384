"""Two workers and one beat running together with short intervals: every source is polled once per
interval, never twice at once, and every upstream request belongs to a recorded poll."""

from __future__ import annotations

import re
from datetime import timedelta
from itertools import pairwise

import pytest

from integrations_app.models import ChargebackStopKey, DataFastSite, PollAttempt
from sandbox.server import SandboxServer
from tests import demo, factories
from tests.reliability.processes import TICK_SECONDS, Launcher, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

INTERVAL_SECONDS = 2
POLLS_EACH = 3
POLL_DONE = re.compile(r"tasks\.poll_(site|key|batch)\[[^\]]+\] succeeded")
LATENCY = 1.2  # each poll outlasts a tick: without lease and lock, the next tick would poll it again
# Slowest acceptable gap: an interval, a tick to notice it is due, and room for a slow machine.
LATEST_GAP = timedelta(seconds=INTERVAL_SECONDS + 2 * TICK_SECONDS + 3)


def attempts_of(source: DataFastSite | ChargebackStopKey) -> list[PollAttempt]:
    link = {"site": source} if isinstance(source, DataFastSite) else {"key": source}
    return list(PollAttempt.objects.filter(**link).order_by("started_at"))


def in_flight(sandbox: SandboxServer) -> int:
    return sum(api["in_flight"] for api in sandbox.state.stats().values())


def requests(sandbox: SandboxServer) -> dict[str, int]:
    return {name: api["requests"] for name, api in sandbox.state.stats().items()}


def requests_recorded(sites: list[DataFastSite], key: ChargebackStopKey) -> dict[str, int]:
    return {
        "datafast": sum(attempt.requests for site in sites for attempt in attempts_of(site)),
        "chargebackstop": sum(attempt.requests for attempt in attempts_of(key)),
    }


def test_it_polls_each_source_once_per_interval_and_never_twice_at_once_with_two_workers(
    launcher: Launcher, sandbox: SandboxServer
) -> None:
    websites = [(demo.ACME_STORE, "Acme"), (demo.BLUEBIRD_BOOKS, "Bluebird"), (demo.DELTA_DESIGN, "Delta")]
    sites = [
        factories.site(website_id=website, name=name, poll_interval_seconds=INTERVAL_SECONDS)
        for website, name in websites
    ]
    key = factories.key(poll_interval_seconds=INTERVAL_SECONDS)
    sources: list[DataFastSite | ChargebackStopKey] = [*sites, key]
    sandbox.state.latency = LATENCY
    beat = launcher.beat(wait=False)
    launcher.wait_ready(beat, launcher.worker("one", wait=False), launcher.worker("two", wait=False))

    wait_for(
        lambda: all(len(attempts_of(source)) >= POLLS_EACH for source in sources),
        timeout=POLLS_EACH * (INTERVAL_SECONDS + 2 * TICK_SECONDS) + 20,
        message=f"{POLLS_EACH} polls of every source",
        logs=launcher.logs,
    )
    beat.kill()
    # What was dispatched finishes; then every upstream request belongs to a recorded poll.
    wait_for(
        lambda: in_flight(sandbox) == 0 and requests(sandbox) == requests_recorded(sites, key),
        timeout=20,
        message="every request to be accounted for by a poll attempt",
        logs=lambda: f"{sandbox.state.stats()} vs {requests_recorded(sites, key)}\n{launcher.logs()}",
    )

    interval = timedelta(seconds=INTERVAL_SECONDS)
    for source in sources:
        attempts = attempts_of(source)
        assert all(attempt.ok for attempt in attempts), [attempt.message for attempt in attempts]
        for earlier, later in pairwise(attempts):
            gap = later.started_at - earlier.started_at
            assert gap >= interval * 0.9 - timedelta(milliseconds=20), f"{source} polled again after {gap}"
            assert gap <= LATEST_GAP, f"{source} waited {gap} for a poll"
            assert earlier.started_at + timedelta(milliseconds=earlier.duration_ms) <= later.started_at, "overlap"
    workers = [process.log() for process in launcher.started if process.name != "beat"]
    assert all(POLL_DONE.search(log) for log in workers), "one worker did all the polling: the test proves nothing"
