"""Finding due sources and running one poll, shared by the Celery tasks and `poll --sync`."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations_app.models import ChargebackStopKey, DataFastSite
from integrations_app.polling.chargebackstop import poll_key
from integrations_app.polling.datafast import poll_site
from integrations_app.polling.locks import exclusive
from integrations_app.polling.outcome import PollOutcome

# Polls start up to this fraction of an interval early, so sources added together drift apart
# and the interval stays an upper bound on the time between polls.
JITTER = 0.1
SOURCES = {"site": (DataFastSite, poll_site), "key": (ChargebackStopKey, poll_key)}


@dataclass(frozen=True)
class Due:
    kind: str  # "site" or "key"
    pk: int
    expires: int  # seconds: a poll still queued after one interval is dropped, the next one covers it


def next_poll_time(now: datetime, interval_seconds: int) -> datetime:
    return now + timedelta(seconds=interval_seconds * (1 - random.uniform(0, JITTER)))  # noqa: S311


def claim_due(now: datetime | None = None, *, everything: bool = False) -> list[Due]:
    """Move every due source's `next_poll_at` on and return them. Rows are claimed in one
    transaction (row locks with SKIP LOCKED where the database has them), so two dispatchers
    never hand out the same source for the same interval."""
    now = now or timezone.now()
    due: list[Due] = []
    with transaction.atomic():
        for kind, (model, _) in SOURCES.items():
            rows = model.objects.select_for_update(skip_locked=True).filter(enabled=True)
            if not everything:
                rows = rows.filter(next_poll_at__lte=now)
            claimed = list(rows.only("pk", "poll_interval_seconds", "next_poll_at").order_by("next_poll_at"))
            for row in claimed:
                interval = row.poll_interval_seconds or settings.POLL_INTERVAL_SECONDS
                row.next_poll_at = next_poll_time(now, interval)
                due.append(Due(kind, row.pk, interval))
            model.objects.bulk_update(claimed, ["next_poll_at"], batch_size=500)
    return due


def run_poll(kind: str, pk: int, *, lock_required: bool = True) -> PollOutcome | None:
    """Poll one source unless another process is polling it; None when skipped or deleted."""
    model, poll = SOURCES[kind]
    with exclusive(f"poll:{kind}:{pk}", timeout=settings.POLL_TASK_TIME_LIMIT + 30, required=lock_required) as mine:
        if not mine:
            return None
        try:
            return poll(pk)
        except model.DoesNotExist:
            return None  # deleted between dispatch and poll
