"""A worker killed with SIGKILL in the middle of a poll cycle: its polls are lost with it (late
acknowledgement keeps them in Redis, but only for the hour-long visibility timeout). The lease that
dispatch put on each source runs out, beat dispatches them again, and a new worker finishes the
cycle: every source polled once more, none twice, and the disconnect the lost cycle would have
reported is emailed exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from integrations_app.models import Alert, ChargebackStopKey, DataFastSite, PollAttempt, StatusChange
from sandbox.server import SandboxServer
from tests import demo, factories
from tests.redis_server import RedisServer
from tests.reliability.processes import LEASE_SECONDS, TICK_SECONDS, Launcher, wait_for
from tests.smtp_sink import SmtpSink

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

IN_FLIGHT_LATENCY = 3.0  # seconds each upstream request takes while the worker is killed
ONE_SHOT_LOCKS = ("paystatus:lock:dispatch", "paystatus:lock:alerts")


def in_flight(sandbox: SandboxServer) -> int:
    return sum(api["in_flight"] for api in sandbox.state.stats().values())


def requests(sandbox: SandboxServer) -> dict[str, int]:
    return {name: api["requests"] for name, api in sandbox.state.stats().items()}


def test_it_finishes_a_cycle_lost_with_a_killed_worker_and_alerts_once(
    launcher: Launcher, sandbox: SandboxServer, smtp_sink: SmtpSink, redis_server: RedisServer
) -> None:
    sites = [
        factories.site(website_id=website, name=name)
        for website, name in [
            (demo.ACME_STORE, "Acme"),
            (demo.BLUEBIRD_BOOKS, "Bluebird"),
            (demo.DELTA_DESIGN, "Delta"),
        ]
    ]
    key = factories.key()
    sources: list[DataFastSite | ChargebackStopKey] = [*sites, key]
    launcher.environment["EMAIL_URL"] = f"smtp://127.0.0.1:{smtp_sink.port}"
    first = launcher.worker("first", concurrency=len(sources), wait=False)
    launcher.wait_ready(launcher.beat(wait=False), first)
    wait_for(
        lambda: PollAttempt.objects.filter(ok=True).count() == len(sources),
        timeout=30,
        message="the first cycle",
        logs=launcher.logs,
    )

    # The next cycle would see Stripe off on Acme: an alert pending in polls that are about to be lost.
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.latency = IN_FLIGHT_LATENCY
    sandbox.state.reset_stats()
    cycle = timezone.now()
    DataFastSite.objects.update(next_poll_at=cycle)
    ChargebackStopKey.objects.update(next_poll_at=cycle)
    wait_for(lambda: in_flight(sandbox) == len(sources), timeout=20, message="every poll in flight", logs=launcher.logs)
    # Kill between two ticks, not while the worker holds the (minute-long) dispatch or alerts lock.
    locks = redis.Redis.from_url(redis_server.url)
    wait_for(lambda: not locks.exists(*ONE_SHOT_LOCKS), timeout=10, message="no dispatch running")
    first.kill()
    assert PollAttempt.objects.filter(started_at__gte=cycle).count() == 0, "a poll finished before the kill"

    sandbox.state.latency = 0
    launcher.worker("second", concurrency=2)

    def polled_again() -> bool:
        return all(PollAttempt.objects.filter(**link(source), started_at__gte=cycle).exists() for source in sources)

    wait_for(polled_again, timeout=LEASE_SECONDS * 3 + 20, message="every source polled again", logs=launcher.logs)
    wait_for(lambda: smtp_sink.messages, timeout=30, message="the alert email", logs=launcher.logs)
    # A duplicate would need another dispatch, a lease after the last one: give it that time.
    last = PollAttempt.objects.latest("started_at").started_at
    quiet_until = last + timedelta(seconds=LEASE_SECONDS + TICK_SECONDS)
    wait_for(lambda: timezone.now() > quiet_until, timeout=LEASE_SECONDS + 10, message="a lease to pass")

    for source in sources:
        assert PollAttempt.objects.filter(**link(source), started_at__gte=cycle).count() == 1, source
    # Each source was asked twice this cycle: by the killed worker, then by the new one.
    assert requests(sandbox) == {"datafast": 2 * len(sites), "chargebackstop": 2}
    assert [message["Subject"] for message in smtp_sink.messages] == ["[Paystatus] Stripe disconnected on Acme"]
    assert StatusChange.objects.filter(notify=True).count() == 1
    assert list(Alert.objects.values_list("status", flat=True)) == [Alert.Status.SENT]


def link(source: DataFastSite | ChargebackStopKey) -> dict[str, DataFastSite | ChargebackStopKey]:
    return {"site": source} if isinstance(source, DataFastSite) else {"key": source}
