"""Hostile upstreams against a real worker and beat (issue 9, section 3): a 503 and a 429 whose
bodies stream for ever, a 200 body that trickles, headers sent one line at a time. Each poll ends by
its deadline with the right error kind; the worker keeps polling the healthy source beside them; no
source is ever polled twice at once, although each hostile poll outlasts its lease; and the worker
stops within 10 s of SIGTERM while upstreams hang."""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from itertools import pairwise
from typing import Any

import pytest

from integrations_app.models import ChargebackStopKey, DataFastSite, PollAttempt
from sandbox.server import SandboxServer
from tests import demo, factories
from tests.reliability.processes import LEASE_SECONDS, Launcher, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

REQUEST_DEADLINE = 7  # well past the lease (4 s): only a renewed lock keeps a second poll out
POLL_DEADLINE = 8
SLACK = 1.5  # seconds a poll may take past its deadline (writing its attempt on a busy machine)
HEALTHY = "6650a1f2c4e8b90012ab3405"
WEBSITES = "/api/v1/admin/websites/"
# website: (the sandbox fault rule, the error kind and HTTP status the poll records)
FAULTS: dict[str, tuple[dict[str, Any], str, int]] = {
    demo.ACME_STORE: ({"kind": "stream", "status": 503, "interval": 0.2}, "server_error", 503),
    demo.BLUEBIRD_BOOKS: ({"kind": "stream", "status": 429, "interval": 0.2}, "rate_limited", 429),
    demo.DELTA_DESIGN: ({"kind": "trickle", "seconds": 600}, "timeout", 200),
}


def attempts_of(source: DataFastSite | ChargebackStopKey) -> list[PollAttempt]:
    link = {"site": source} if isinstance(source, DataFastSite) else {"key": source}
    return list(PollAttempt.objects.filter(**link).order_by("started_at"))


def deadlines(**extra: str) -> dict[str, str]:
    return {
        "UPSTREAM_REQUEST_DEADLINE": str(REQUEST_DEADLINE),
        "POLL_DEADLINE_SECONDS": str(POLL_DEADLINE),
        "UPSTREAM_READ_TIMEOUT": "30",  # per-read timeouts never fire: only the deadlines end these polls
        "UPSTREAM_BODY_TIMEOUT": "600",
        **extra,
    }


def test_each_hostile_poll_ends_by_its_deadline_and_the_worker_goes_on(
    launcher: Launcher, sandbox: SandboxServer, poll_client: dict[str, str]
):
    hostile = {website: factories.site(website_id=website, name=website[-4:]) for website in FAULTS}
    healthy = factories.site(website_id=HEALTHY, name="Healthy", poll_interval_seconds=2)
    key = factories.key()
    for website, (rule, _, _) in FAULTS.items():
        sandbox.state.faults.add(f"{WEBSITES}{website}/", **rule)
    sandbox.state.faults.add("/v1/integrations/", kind="slow_headers", seconds=1)
    sources: list[DataFastSite | ChargebackStopKey] = [*hostile.values(), key]

    beat = launcher.beat(wait=False)
    launcher.wait_ready(beat, launcher.worker("hostile", concurrency=8, wait=False, **deadlines(**poll_client)))
    started = time.monotonic()

    # Two rounds of every hostile poll: the second round starts once the first one's lease ran out.
    wait_for(
        lambda: all(len(attempts_of(source)) >= 1 for source in sources) and len(attempts_of(healthy)) >= 3,
        timeout=60,
        message="every source polled, the healthy one several times",
        logs=launcher.logs,
    )
    time.sleep(LEASE_SECONDS + 2)  # room for a redispatch after each lease: it must not poll twice at once
    elapsed = time.monotonic() - started

    for website, (_, kind, status) in FAULTS.items():
        for attempt in attempts_of(hostile[website]):
            assert (attempt.ok, attempt.error_kind, attempt.http_status) == (False, kind, status), attempt.message
            assert attempt.duration_ms <= (REQUEST_DEADLINE + SLACK) * 1000, attempt
    for attempt in attempts_of(key):
        assert (attempt.ok, attempt.error_kind) == (False, "timeout"), attempt.message
        assert attempt.duration_ms <= (POLL_DEADLINE + SLACK) * 1000, attempt
    for source in sources:
        print(f"\n{source}: {[(a.error_kind, a.http_status, a.duration_ms) for a in attempts_of(source)]}")
    healthy_polls = attempts_of(healthy)
    assert all(attempt.ok for attempt in healthy_polls)
    assert len(healthy_polls) >= elapsed / 2 / 3, "the healthy source was starved by the hostile ones"
    for source in sources:
        polls = attempts_of(source)
        for first, second in pairwise(polls):
            assert second.started_at >= first.started_at + timedelta(milliseconds=first.duration_ms - 50), (
                f"{source} was polled twice at once"
            )
    assert "raised unexpected" not in launcher.logs()


def test_a_worker_stops_within_ten_seconds_of_sigterm_while_upstreams_hang(
    launcher: Launcher, sandbox: SandboxServer, poll_client: dict[str, str]
):
    sites = [factories.site(website_id=website, name=website[-4:]) for website in FAULTS]
    key = factories.key()
    sandbox.state.faults.add("/", kind="slow_headers", seconds=1)
    # Deadlines far longer than the 10 s allowed: only cutting the calls can stop the worker in time.
    env = deadlines(
        UPSTREAM_REQUEST_DEADLINE="120", POLL_DEADLINE_SECONDS="300", POLL_LEASE_SECONDS="600", **poll_client
    )
    worker = launcher.worker("stopping", concurrency=4, wait=False, **env)
    launcher.wait_ready(launcher.beat(wait=False), worker)
    in_flight = lambda: sum(api["in_flight"] for api in sandbox.state.stats().values())  # noqa: E731
    wait_for(lambda: in_flight() >= len(sites) + 1, timeout=30, message="every poll hanging", logs=launcher.logs)

    asked = time.monotonic()
    worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: not worker.alive(), timeout=20, message="the worker to stop", logs=worker.tail)
    stopped_after = time.monotonic() - asked

    print(f"\nworker stopped {stopped_after:.1f} s after SIGTERM")
    assert stopped_after < 10, f"the worker took {stopped_after:.1f} s to stop"
    assert worker.process.returncode == 0, worker.tail()
    # Cut by the shutdown, not by the upstream: nothing is recorded, and the lease brings them back.
    assert not PollAttempt.objects.exists()
    for source in [*sites, key]:
        source.refresh_from_db()
        assert source.last_polled_at is None
