"""Dispatch ticks and alerts have a queue and, under `make run`, a worker of their own: a cycle's
polls queued on the upstream queue never hold them back (at 50,000 websites, ~800 batches wait
there for a minute or more)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from dashboard import queues
from dashboard.celery import app
from integrations_app.models import DataFastSite
from integrations_app.tasks import dispatch_due_polls, poll_site
from sandbox.server import SandboxServer
from tests import demo, factories
from tests.reliability.processes import Launcher, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

QUEUED_POLLS = 30
LATENCY = 1.0  # the polling worker's one thread works through the queued polls in ~30 s


def test_every_task_is_routed_to_one_of_the_two_queues_the_upstream_work_to_its_own() -> None:
    routed = {
        name: app.amqp.router.route({}, name)["queue"].name
        for name in app.tasks
        if name.startswith("integrations_app.tasks.")
    }
    upstream = {name.rsplit(".", 1)[1] for name, queue in routed.items() if queue == queues.UPSTREAM}
    assert upstream == {"poll_batch", "poll_site", "poll_key", "discover_account", "discover_key"}
    assert set(routed.values()) == set(queues.EVERY)
    assert routed["integrations_app.tasks.dispatch_due_polls"] == queues.CONTROL
    assert routed["integrations_app.tasks.send_pending_alerts"] == queues.CONTROL


def test_a_dispatch_tick_is_not_held_back_by_the_polls_queued_before_it(
    launcher: Launcher, sandbox: SandboxServer
) -> None:
    busy = [factories.site(website_id=f"7{demo.ACME_STORE[1:-2]}{number:02}") for number in range(QUEUED_POLLS)]
    due = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird")
    DataFastSite.objects.exclude(pk=due.pk).update(next_poll_at=timezone.now() + timedelta(hours=1))
    sandbox.state.latency = LATENCY
    launcher.wait_ready(
        launcher.worker("polls", concurrency=1, queues=[queues.UPSTREAM], wait=False),
        launcher.worker("control", concurrency=queues.CONTROL_THREADS, queues=[queues.CONTROL], wait=False),
    )
    for site in busy:  # each its own website: none is skipped as polled elsewhere
        poll_site.apply_async((site.pk, None))
    wait_for(lambda: sandbox.state.stats()["datafast"]["in_flight"], timeout=20, message="the first queued poll")

    sent = time.monotonic()
    DataFastSite.objects.filter(pk=due.pk).update(next_poll_at=timezone.now())
    dispatch_due_polls.apply_async()
    # The tick claims the due website: its lease moves its next poll past now.
    wait_for(
        lambda: DataFastSite.objects.get(pk=due.pk).next_poll_at > timezone.now() + timedelta(seconds=1),
        timeout=3 * LATENCY,
        message="the dispatch tick to lease the due website while the polls are still queued",
        logs=launcher.logs,
    )
    assert time.monotonic() - sent < QUEUED_POLLS * LATENCY / 2
    assert sandbox.state.stats()["datafast"]["requests"] < QUEUED_POLLS  # the polls were still queued
