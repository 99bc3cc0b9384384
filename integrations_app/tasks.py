"""Celery tasks: thin wrappers that schedule the service functions."""

from __future__ import annotations

import gc
import logging
import threading
from datetime import datetime
from typing import Any, TypedDict

from celery import shared_task
from celery.signals import worker_init, worker_shutting_down
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone
from kombu import Producer
from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from integrations_app.alerts import digest, policy, reminders
from integrations_app.alerts.batching import GROUP_QUIET
from integrations_app.alerts.delivery import send_pending_alerts as deliver_alerts
from integrations_app.chargebackstop import discovery as chargebackstop_discovery
from integrations_app.datafast import discovery as datafast_discovery
from integrations_app.models.retention import compact, prune
from integrations_app.polling.dispatch import Batch, claim_due, give_back, run_batch
from integrations_app.polling.locks import exclusive
from integrations_app.problems import refresh_due
from integrations_app.upstream import http, http_async

logger = logging.getLogger(__name__)


class RetryOptions(TypedDict):
    """`shared_task` options, typed so that the Celery stubs can check them and type the tasks."""

    autoretry_for: tuple[type[BaseException], ...]
    retry_backoff: int
    retry_backoff_max: int
    max_retries: int


# A locked or unreachable database fails the poll cleanly (its transaction rolls back); try again.
DB_RETRY = RetryOptions(autoretry_for=(DatabaseError,), retry_backoff=2, retry_backoff_max=30, max_retries=5)


@shared_task(**DB_RETRY)
def dispatch_due_polls() -> int:
    # Short: a worker killed while dispatching must not stop dispatch for long.
    with exclusive("dispatch", timeout=30) as mine:
        if not mine:
            return 0
        batches = claim_due()
        # The same tick re-derives the problems the clock has overtaken (stale, a Paddle expiry).
        # Its failure must not lose the sources just leased: they would wait a whole lease.
        try:
            refresh_due()
        except DatabaseError:
            logger.warning("re-deriving problem states failed; the next tick tries again", exc_info=True)
    dispatched = sum(len(batch.pks) for batch in batches)
    try:
        enqueue(batches)
    except PUBLISH_ERRORS:
        logger.warning("queuing %s polls failed: due again at the next tick", dispatched, exc_info=True)
        return 0
    return dispatched


# What publishing raises when Redis fails or refuses: kombu wraps most of it (a failed pipeline is
# its BatchPublishError, "delivery uncertain"), the rest leaks through.
PUBLISH_ERRORS = (KombuError, RedisError, OSError)


def enqueue(batches: list[Batch], producer: Producer | None = None) -> None:
    """Publish each batch of leased sources as one `poll_batch` message, all of them through one
    Redis pipeline (kombu's publish batch, flushed every 1,000 Redis commands, one a message): no
    reply awaited per message. On a machine busy with the polls this dispatch has started, each
    awaited reply was also a wait to be scheduled again, ~3 ms a message, seconds for the ~800
    batches of 50,000 websites. Its logged arguments name the batch (Celery would otherwise render
    every key of it, per message: a third of the publishing CPU). A failed publish (PUBLISH_ERRORS)
    gives the leases back before it is raised: the next tick dispatches the sources again."""
    try:
        with poll_batch.app.producer_or_acquire(producer) as publisher, publisher.batch():
            for batch in batches:
                poll_batch.apply_async(  # type: ignore[call-arg]  # celery-types lacks the two reprs
                    (batch.kind, batch.pks, batch.dispatched_at.isoformat()),
                    expires=batch.expires,
                    producer=publisher,
                    argsrepr=f"({batch.kind!r}, <{len(batch.pks)} sources from {batch.pks[0]}>)",
                    kwargsrepr="{}",
                )
    except PUBLISH_ERRORS:
        give_back(batches)
        raise


def _poll(kind: str, pks: list[int], dispatched_at: str | None) -> dict[str, int]:
    """Poll each source of the batch. A retry after a database error skips those already polled."""
    when = datetime.fromisoformat(dispatched_at) if dispatched_at else None
    result = run_batch(kind, pks, dispatched_at=when)
    # An interrupted batch (the worker is stopping): the rest keep their lease, dispatched again.
    counts = {"ok": 0, "failed": 0, "skipped": result.interrupted}
    for outcome in result.outcomes:
        counts["skipped" if outcome is None else "ok" if outcome.ok else "failed"] += 1
    if sum(outcome.alerts for outcome in result.outcomes if outcome):
        send_pending_alerts.apply_async(countdown=GROUP_QUIET.total_seconds() + 1)
    return counts


@shared_task(**DB_RETRY)
def poll_batch(kind: str, pks: list[int], dispatched_at: str) -> dict[str, int]:
    return _poll(kind, pks, dispatched_at)


@shared_task(**DB_RETRY)
def poll_site(site_id: int, dispatched_at: str | None = None) -> dict[str, int]:
    return _poll("site", [site_id], dispatched_at)


@shared_task(**DB_RETRY)
def poll_key(key_id: int, dispatched_at: str | None = None) -> dict[str, int]:
    return _poll("key", [key_id], dispatched_at)


@shared_task(**DB_RETRY)
def send_pending_alerts() -> int:
    with exclusive("alerts", timeout=settings.POLL_TASK_TIME_LIMIT) as mine:
        if not mine:
            return 0
        report = deliver_alerts()
    return report.sent


@shared_task(**DB_RETRY)
def follow_up_silences() -> int:
    """Tell what is still broken once a silence or a maintenance window has ended (once each)."""
    written = policy.follow_up_ended(timezone.now())
    if written:
        send_pending_alerts.apply_async(countdown=GROUP_QUIET.total_seconds() + 1)
    return len(written)


@shared_task
def discover_due() -> int:
    """The daily discovery: one task per DataFast account and ChargebackStop key whose last listing
    is DISCOVERY_INTERVAL_HOURS old, so that a slow upstream holds one task, not all of them."""
    now = timezone.now()
    accounts = list(datafast_discovery.due(now).values_list("pk", flat=True))
    keys = list(chargebackstop_discovery.due(now).values_list("pk", flat=True))
    for pk in accounts:
        discover_account.apply_async((pk,), expires=600)
    for pk in keys:
        discover_key.apply_async((pk,), expires=600)
    return len(accounts) + len(keys)


# Each asks whether it is still due: with the worker behind, beat enqueues the same account every
# minute, and the copies after the first cost one query each, not a request.
@shared_task(**DB_RETRY)
def discover_account(account_id: int) -> str:
    account = datafast_discovery.due(timezone.now()).filter(pk=account_id).first()
    return datafast_discovery.discover(account).state if account else "not due"


@shared_task(**DB_RETRY)
def discover_key(key_id: int) -> str:
    key = chargebackstop_discovery.due(timezone.now()).filter(pk=key_id).first()
    return chargebackstop_discovery.discover(key).access if key else "not due"


@shared_task
def send_weekly_digests() -> int:
    return digest.send_due(timezone.now())


@shared_task
def send_reminders() -> int:
    """One reminder per project and period while its problems stay open and unacknowledged. One run
    at a time: a reminder's claim is per (anchor, period), so two runs either side of a period's end
    or of an acknowledgement would claim two slots; one after the other, the second sees the first's."""
    with exclusive("reminders", timeout=settings.POLL_TASK_TIME_LIMIT) as mine:
        if not mine:
            return 0
        return reminders.send_due(timezone.now())


@shared_task
def prune_history() -> dict[str, int]:
    return prune()


@shared_task
def compact_history() -> list[str]:
    return compact()


@worker_shutting_down.connect
def cut_upstream_calls(**_: object) -> None:
    """A warm shutdown waits for the tasks that are running; one waiting on a hung upstream would
    hold the worker for its whole deadline. Cut every upstream call now (in a thread: this runs in
    the signal handler), so the running polls end at once and record nothing."""
    threading.Thread(target=http.interrupt_all, name="interrupt-upstream-calls", daemon=True).start()


@worker_init.connect
def bound_requests_in_flight(sender: Any = None, **_: object) -> None:
    """A worker process sends at most as many requests at once to an upstream as it has threads:
    its share of POLL_CONCURRENCY (`make run` splits it over the processes), as when each thread
    asked for one poll at a time. The poll loop's semaphore holds it (`http_async`)."""
    concurrency = getattr(sender, "concurrency", None)
    if isinstance(concurrency, int) and concurrency > 0:
        http_async.configure(in_flight=concurrency)


# Young objects the collector lets pile up before it looks at them (Python's default: 700).
YOUNG_COLLECTION_THRESHOLD = 10_000


@worker_init.connect
def collect_garbage_less_often(**_: object) -> None:
    """A batch of polls keeps thousands of objects alive for its second on the loop (tasks, answers,
    rows), so with the default thresholds the collector ran a young collection every few polls and
    a full one, over every object start-up made, every cycle: 3-10 % of a steady poll's CPU in
    measurements. What is loaded by now (modules, Django's and Celery's state) lives as long as
    the process: frozen, no collection walks it again; and young objects are collected at a
    threshold that lets most of a batch's die by their reference counts first. Garbage in
    reference cycles waits a little longer for its collection (at most that many objects)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
