"""Celery tasks: thin wrappers that schedule the service functions."""

from __future__ import annotations

import logging
from datetime import datetime

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError

from integrations_app.alerts.batching import GROUP_QUIET
from integrations_app.alerts.delivery import send_pending_alerts as deliver_alerts
from integrations_app.history import prune
from integrations_app.polling.dispatch import Due, claim_due, run_poll
from integrations_app.polling.locks import exclusive

logger = logging.getLogger(__name__)
# A locked or unreachable database fails the poll cleanly (its transaction rolls back); try again.
DB_RETRY = {"autoretry_for": (DatabaseError,), "retry_backoff": 2, "retry_backoff_max": 30, "max_retries": 5}


@shared_task(**DB_RETRY)
def dispatch_due_polls() -> int:
    # Short: a worker killed while dispatching must not stop dispatch for long.
    with exclusive("dispatch", timeout=30) as mine:
        if not mine:
            return 0
        due = claim_due()
    enqueue(due)
    return len(due)


def enqueue(due: list[Due]) -> None:
    for item in due:
        task = poll_site if item.kind == "site" else poll_key
        task.apply_async((item.pk, item.dispatched_at.isoformat()), expires=item.expires)


def _poll(kind: str, pk: int, dispatched_at: str | None) -> str:
    outcome = run_poll(kind, pk, dispatched_at=datetime.fromisoformat(dispatched_at) if dispatched_at else None)
    if outcome is None:
        return "skipped"
    if outcome.alerts:
        send_pending_alerts.apply_async(countdown=GROUP_QUIET.total_seconds() + 1)
    return "ok" if outcome.ok else outcome.error_kind


@shared_task(**DB_RETRY)
def poll_site(site_id: int, dispatched_at: str | None = None) -> str:
    return _poll("site", site_id, dispatched_at)


@shared_task(**DB_RETRY)
def poll_key(key_id: int, dispatched_at: str | None = None) -> str:
    return _poll("key", key_id, dispatched_at)


@shared_task(**DB_RETRY)
def send_pending_alerts() -> int:
    with exclusive("alerts", timeout=settings.POLL_TASK_TIME_LIMIT) as mine:
        if not mine:
            return 0
        report = deliver_alerts()
    return report.sent


@shared_task
def prune_history() -> dict[str, int]:
    return prune()
