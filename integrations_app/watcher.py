"""Watching the watcher: is polling and alerting actually happening?

`/healthz` answers 503 and every page shows a banner when any of these holds, so that an outside
monitor (or a person) notices a stalled Paystatus even though nothing inside it can alert:
- no poll has completed, with any outcome, for twice the shortest interval while sources are
  enabled (a hung worker, a dead beat);
- sources that used to answer have all stopped answering successfully for twice that interval
  (a fresh install whose only source was never accepted is not a stall: that source alerts itself);
- enabled sources were added twice that interval ago and never polled (a worker that never ran);
- enabled sources are overdue past their lease (due, and not polled, for longer than a poll may take);
- changes that should have been sent wait past the grouping window, or alerts of the last day
  failed or are still unsent.
Four small aggregate queries, whatever the number of sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from integrations_app.alerts.delivery import MAX_ATTEMPTS
from integrations_app.humanize import age_words
from integrations_app.models import Alert, StatusChange
from integrations_app.models.sources import PolledSource
from integrations_app.upstreams import UPSTREAMS

# The sender groups a cycle's changes for at most 30 s (alerts/batching.py): past this they are stuck.
CHANGE_SEND_GRACE = timedelta(minutes=5)
# An alert retried with backoff for this long has not got through.
ALERT_SEND_GRACE = timedelta(minutes=15)
# Failed alerts older than this no longer hold /healthz down; the Alerts page still lists them.
ALERT_LOOKBACK = timedelta(days=1)


@dataclass(frozen=True)
class WatcherReport:
    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return not self.problems


def _sources(model: type[PolledSource], now: datetime) -> dict[str, Any]:
    overdue_before = now - timedelta(seconds=settings.POLL_LEASE_SECONDS)
    return model._default_manager.filter(enabled=True).aggregate(
        enabled=Count("pk"),
        shortest=Min(Coalesce("poll_interval_seconds", Value(settings.POLL_INTERVAL_SECONDS))),
        last_polled=Max("last_polled_at"),
        last_success=Max("last_success_at"),
        overdue=Count("pk", filter=Q(next_poll_at__lt=overdue_before)),
        # Beat re-leases a source it cannot get polled, so one never polled is never "overdue":
        # how long the oldest of them has waited tells a worker that never ran.
        never_polled=Count("pk", filter=Q(last_polled_at__isnull=True)),
        oldest_never_polled=Min("created_at", filter=Q(last_polled_at__isnull=True)),
    )


def _newest(values: list[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return max(present) if present else None


def _oldest(values: list[datetime | None]) -> datetime | None:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def watcher_report(now: datetime | None = None) -> WatcherReport:
    now = now or timezone.now()
    kinds = [_sources(upstream.model, now) for upstream in UPSTREAMS]
    enabled = sum(kind["enabled"] for kind in kinds)
    problems: list[str] = []
    facts: dict[str, Any] = {"enabled_sources": enabled, "overdue_sources": sum(kind["overdue"] for kind in kinds)}
    if enabled:
        shortest = min(kind["shortest"] for kind in kinds if kind["shortest"] is not None)
        # Twice the interval, and never less than a poll may take (a short interval beside one
        # upstream that times out is slow, not stalled).
        allowed = timedelta(seconds=max(2 * shortest, shortest + settings.POLL_DEADLINE_SECONDS))
        polled = _newest([kind["last_polled"] for kind in kinds])
        answered = _newest([kind["last_success"] for kind in kinds])
        facts["newest_poll_age_seconds"] = round((now - polled).total_seconds()) if polled else None
        facts["newest_successful_poll_age_seconds"] = round((now - answered).total_seconds()) if answered else None
        if polled is not None and now - polled > allowed:
            problems.append(f"no poll has finished since {age_words(now - polled)}: is a worker running?")
        if answered is not None and now - answered > allowed:
            problems.append(f"no source has answered successfully since {age_words(now - answered)}")
        waiting = _oldest([kind["oldest_never_polled"] for kind in kinds])
        facts["never_polled_sources"] = sum(kind["never_polled"] for kind in kinds)
        if waiting is not None and now - waiting > allowed:
            problems.append(
                f"{facts['never_polled_sources']} sources were never polled, the oldest added "
                f"{age_words(now - waiting)}: is a worker running?"
            )
    if facts["overdue_sources"]:
        problems.append(f"{facts['overdue_sources']} sources are overdue past their lease: is beat running?")
    unsent = StatusChange.objects.unsent().aggregate(total=Count("pk"), oldest=Min("at"))
    facts["unsent_changes"] = unsent["total"]
    if unsent["oldest"] is not None and now - unsent["oldest"] > CHANGE_SEND_GRACE:
        problems.append(
            f"state changes wait to be sent since {age_words(now - unsent['oldest'])}: is a worker running?"
        )
    stuck_alerts = (
        Alert.objects.exclude(status=Alert.Status.SENT)
        .filter(created_at__gte=now - ALERT_LOOKBACK)
        # Given up on, or still unsent past the grace; one failed try that is due again soon is not stuck.
        .filter(Q(status=Alert.Status.FAILED, attempts__gte=MAX_ATTEMPTS) | Q(created_at__lt=now - ALERT_SEND_GRACE))
        .count()
    )
    facts["stuck_alerts"] = stuck_alerts
    if stuck_alerts:
        problems.append(f"{stuck_alerts} alerts could not be sent (see the Alerts page)")
    return WatcherReport(problems, facts)
