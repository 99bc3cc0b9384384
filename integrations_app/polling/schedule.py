"""When a source is polled next.

Dispatch puts a *lease* on a source (next_poll_at = now + POLL_LEASE_SECONDS); the poll itself,
when it finishes, sets the real next time (its start + interval, minus jitter). So a poll lost with a
killed worker is dispatched again once its lease runs out, instead of waiting a whole interval.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.conf import settings

# Polls start up to this fraction of an interval early, so sources added together drift apart
# and the interval stays an upper bound on the time between polls.
JITTER = 0.1


def next_poll_time(started: datetime, interval: timedelta) -> datetime:
    return started + interval * (1 - random.uniform(0, JITTER))  # noqa: S311 (spreading load, not security)


def lease_end(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.POLL_LEASE_SECONDS)
