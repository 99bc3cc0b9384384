"""The real path: beat's tick task → Redis → a Celery worker (threads pool) → database → email."""

from __future__ import annotations

import base64
import gc
import json
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from dashboard import queues
from dashboard.celery import app
from integrations_app.models import DataFastSite, Health, PollAttempt, StatusChange
from integrations_app.polling.dispatch import Batch
from integrations_app.polling.locks import exclusive
from integrations_app.tasks import (
    YOUNG_COLLECTION_THRESHOLD,
    collect_garbage_less_often,
    dispatch_due_polls,
    enqueue,
    poll_batch,
    poll_site,
)
from tests import demo, factories
from tests.polling import break_recording
from tests.reliability.relay import TcpRelay

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_for(condition: Callable[[], bool], timeout: float = 20, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting: {message}")


@pytest.fixture
def worker(redis_clean, sandbox) -> Iterator[object]:
    with start_worker(
        app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=15
    ) as running:
        yield running


def make_due() -> None:
    DataFastSite.objects.update(next_poll_at=timezone.now())


def test_a_tick_polls_every_due_site_once_and_a_disconnect_is_emailed(worker, sandbox):
    sites = [
        factories.site(website_id=website, name=name)
        for website, name in [(demo.ACME_STORE, "Acme"), (demo.BLUEBIRD_BOOKS, "Bluebird")]
    ]
    dispatch_due_polls.delay()
    wait_for(lambda: PollAttempt.objects.filter(ok=True).count() == 2, message="first polls")
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    make_due()
    dispatch_due_polls.delay()
    wait_for(lambda: len(mail.outbox) == 1, message="the alert email")
    assert mail.outbox[0].subject == "[Paystatus] Stripe disconnected on Acme"
    assert PollAttempt.objects.count() == 4
    for site in sites:
        site.refresh_from_db()
        assert site.next_poll_at > timezone.now()


def test_two_ticks_at_once_poll_each_site_once(worker, sandbox):
    factories.site()
    sandbox.state.latency = 0.5
    dispatch_due_polls.delay()
    dispatch_due_polls.delay()
    wait_for(lambda: PollAttempt.objects.count() >= 1, message="a poll")
    time.sleep(1.5)
    assert PollAttempt.objects.count() == 1
    assert sandbox.state.stats()["datafast"]["requests"] == 1


def test_a_poll_already_running_elsewhere_is_skipped(worker, sandbox):
    site = factories.site()
    with exclusive(f"poll:site:{site.pk}", timeout=30) as mine:
        assert mine
        result = poll_site.apply_async((site.pk,))
        time.sleep(1.0)
    assert PollAttempt.objects.count() == 0
    assert result.id


def test_every_beat_entry_names_a_registered_task(settings):
    app.loader.import_default_modules()
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert names <= set(app.tasks), names - set(app.tasks)
    assert "integrations_app.tasks.compact_history" in names


def test_one_websites_recording_error_does_not_hold_back_the_batchs_alerts(
    worker, sandbox, smtp_sink, caplog, monkeypatch
):
    """A bug in recording one website's answer fails recording that website; the batch's other
    website is recorded and its alert emailed by the task's own send_pending_alerts, no beat
    needed. The failing website is not recorded at all (a poll error is never a disconnect): its
    lease brings it back."""
    acme = factories.site(website_id=demo.ACME_STORE, name="Acme")
    bluebird = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird")
    poll_batch.delay("site", [acme.pk, bluebird.pk], timezone.now().isoformat())
    wait_for(lambda: PollAttempt.objects.filter(ok=True).count() == 2, message="first polls")
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    break_recording(monkeypatch, bluebird.pk)
    poll_batch.delay("site", [acme.pk, bluebird.pk], timezone.now().isoformat())
    wait_for(lambda: smtp_sink.messages, message="the alert email")
    assert [message["Subject"] for message in smtp_sink.messages] == ["[Paystatus] Stripe disconnected on Acme"]
    assert PollAttempt.objects.filter(site=bluebird).count() == 1  # the first poll's only
    bluebird.refresh_from_db()
    assert (bluebird.health, bluebird.has_disconnect) == (Health.OK, False)
    assert not StatusChange.objects.filter(site=bluebird, notify=True).exists()
    logged = [record for record in caplog.records if "could not be recorded" in record.getMessage()]
    assert len(logged) == 1 and f"site {bluebird.pk}" in logged[0].getMessage()


@pytest.fixture
def collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_a_starting_worker_freezes_what_it_loaded_and_collects_young_objects_less_often(collector):
    """Run at `worker_init`, as `bound_requests_in_flight` is."""
    gc.unfreeze()
    collect_garbage_less_often()
    assert gc.get_freeze_count() > 10_000  # the modules and state loaded so far
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_THRESHOLD


def test_a_dispatch_hands_redis_its_batches_in_a_few_round_trips_not_one_each(redis_clean):
    """On a machine busy with the polls a dispatch has started, every reply it awaited was also a
    wait to be scheduled again: ~800 batches took the 50,000-website dispatch seconds."""
    relay = TcpRelay("127.0.0.1", redis_clean.port)
    relay.open()
    now = timezone.now()
    batches = [Batch("site", tuple(range(number * 64, number * 64 + 64)), now) for number in range(200)]
    try:
        with app.connection_for_write(f"redis://127.0.0.1:{relay.port}/0") as connection:
            enqueue(batches, connection.Producer())
    finally:
        relay.close()
    assert relay.replies < len(batches) / 4
    queued = [json.loads(raw) for raw in redis.Redis(port=redis_clean.port).lrange(queues.UPSTREAM, 0, -1)]
    assert len(queued) == len(batches)
    # Every key travels; the logged arguments name the batch instead of listing its 64 keys.
    first = min(queued, key=lambda message: json.loads(base64.b64decode(message["body"]))[0][1][0])
    args, kwargs, _ = json.loads(base64.b64decode(first["body"]))
    assert args == ["site", list(range(64)), now.isoformat()] and kwargs == {}
    assert first["headers"]["argsrepr"] == "('site', <64 sources from 0>)"
    assert first["headers"]["expires"]  # a queued batch still runs out with its lease


def test_the_broker_as_configured_takes_a_dispatch_in_one_pipeline(redis_clean):
    """kombu publishes one message at a time, silently, if the Redis connection retries on its
    own (`retry_on_timeout`, `retry_on_error` in REDIS_URL or the transport options)."""
    with app.producer_or_acquire() as producer:
        assert producer.supports_batch_publish


def test_a_dispatch_whose_queuing_fails_gives_its_sources_back_for_the_next_tick(redis_clean, publishing_fails, caplog):
    site = factories.site()
    assert dispatch_due_polls() == 0
    assert DataFastSite.objects.get(pk=site.pk).next_poll_at <= timezone.now()  # not held by a lease
    assert "queuing 1 polls failed: due again at the next tick" in caplog.text
