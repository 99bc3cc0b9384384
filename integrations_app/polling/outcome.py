"""Recording a poll attempt and the health of its source, shared by both upstreams."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings

from integrations_app.models import ChargebackStopKey, DataFastSite, Health, PollAttempt, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.polling.schedule import next_poll_time
from integrations_app.upstream.errors import CredentialError, NotFoundError, TransientError, UpstreamError

Source = DataFastSite | ChargebackStopKey
SOURCE_FIELDS = [
    "next_poll_at",
    "last_polled_at",
    "last_success_at",
    "stale_after",
    "failing_since",
    "last_error_kind",
    "last_error_message",
    "last_error_status",
    "health",
    "health_since",
    "health_alert_open",
]


@dataclass
class PollOutcome:
    source: str
    ok: bool
    error_kind: str = ""
    skipped: bool = False
    changes: list[StatusChange] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(1 for change in self.changes if change.notify)


def polled_since(source: Source, dispatched_at: datetime | None) -> bool:
    return dispatched_at is not None and source.last_polled_at is not None and source.last_polled_at >= dispatched_at


def error_kind(error: Exception) -> str:
    if isinstance(error, TransientError):
        return error.reason
    if isinstance(error, UpstreamError):
        return error.kind
    return "secret_unreadable"


def _links(source: Source) -> dict[str, Any]:
    return {"site": source} if isinstance(source, DataFastSite) else {"key": source}


def _attempt(source: Source, **fields: Any) -> PollAttempt:
    return PollAttempt.objects.create(**_links(source), **fields)


def _set_health(source: Source, new: str, *, reason: str, now: datetime) -> list[StatusChange]:
    old = source.health
    if old == new:
        return []
    first_observation = old == Health.PENDING
    if new == Health.OK:
        severity, notify = (Severity.RECOVERY, True) if source.health_alert_open else (Severity.INFO, False)
        source.health_alert_open = False
    elif first_observation and new != Health.FAILING:
        severity, notify = Severity.INFO, False
    else:
        severity, notify = Severity.PROBLEM, True
        source.health_alert_open = True
    source.health, source.health_since = new, now
    change = StatusChange.objects.create(
        kind=ChangeKind.SOURCE_HEALTH,
        severity=severity,
        at=now,
        old=old,
        new=new,
        reason=reason,
        notify=notify,
        **_links(source),
    )
    return [change]


def record_success(
    source: Source, *, started: datetime, duration_ms: int, requests: int = 1, message: str = ""
) -> list[StatusChange]:
    """Record a good answer (`message`: what was wrong with parts of it, such as an incomplete
    listing). The caller saves the source (`SOURCE_FIELDS` and what else it set), in one UPDATE
    with the rest of the poll."""
    _attempt(source, started_at=started, duration_ms=duration_ms, ok=True, requests=requests, message=message[:300])
    changes = _set_health(source, Health.OK, reason="answered normally", now=started)
    source.last_polled_at = source.last_success_at = started
    source.next_poll_at = next_poll_time(started, source.interval)
    source.stale_after = started + 2 * source.interval
    source.failing_since = None
    source.last_error_kind = source.last_error_message = ""
    source.last_error_status = None
    return changes


def record_failure(
    source: Source, error: Exception, *, started: datetime, duration_ms: int, requests: int = 1
) -> list[StatusChange]:
    """A failed poll never touches connection state. Only 401/403 and 404 are verdicts on the
    source; anything else becomes "failing" once it has lasted POLL_FAILING_AFTER_INTERVALS."""
    kind = error_kind(error)
    status = getattr(error, "status", None)
    message = str(error)[:300]
    _attempt(
        source,
        started_at=started,
        duration_ms=duration_ms,
        ok=False,
        error_kind=kind,
        http_status=status,
        message=message,
        requests=requests,
    )
    source.last_polled_at = started
    source.next_poll_at = next_poll_time(started, source.interval)
    source.last_error_kind, source.last_error_message, source.last_error_status = kind, message, status
    if source.failing_since is None:
        source.failing_since = started
    if isinstance(error, CredentialError):
        changes = _set_health(source, Health.CREDENTIAL_REJECTED, reason=message, now=started)
    elif isinstance(error, NotFoundError):
        changes = _set_health(source, Health.NOT_FOUND, reason=message, now=started)
    elif source.health in (Health.OK, Health.PENDING) and (
        started - source.failing_since >= settings.POLL_FAILING_AFTER_INTERVALS * source.interval
    ):
        changes = _set_health(source, Health.FAILING, reason=f"no good answer since then: {message}", now=started)
    else:
        changes = []
    source.save(update_fields=SOURCE_FIELDS)
    return changes
