"""Recording a poll attempt and the health of its source, shared by every upstream."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from django.conf import settings
from django.utils import timezone

from integrations_app.alerts.changes import record_change
from integrations_app.models import Health, PollAttempt, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.models.sources import PolledSource
from integrations_app.polling.schedule import next_poll_time
from integrations_app.polling.transitions import claim
from integrations_app.polling.write_queue import write_transaction
from integrations_app.text import fit
from integrations_app.upstream import http_async
from integrations_app.upstream.errors import CredentialError, NotFoundError, TransientError, UpstreamError
from integrations_app.upstreams import links

Source = PolledSource  # a row of an upstream's source model (upstreams.py)
T = TypeVar("T")
SOURCE_FIELDS = [
    "next_poll_at",
    "last_polled_at",
    "last_success_at",
    "stale_after",
    "failing_since",
    "last_error_kind",
    "last_error_message",
    "last_error_status",
]
# `health`, `health_since` and `health_alert_open` are written only by `_set_health`'s
# compare-and-set, so a stale copy of the row never overwrites them.


@dataclass
class PollOutcome:
    source: str
    ok: bool
    error_kind: str = ""
    changes: list[StatusChange] = field(default_factory=list)

    @property
    def alerts(self) -> int:
        return sum(1 for change in self.changes if change.notify)


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """An upstream's answer for one poll, or the outcome of a poll that got none (recorded)."""

    answer: T | None
    started: datetime
    duration_ms: int
    failed: PollOutcome | None = None


@dataclass(frozen=True)
class Asked(Generic[T]):
    """An upstream's answer for one poll, or the error it ended with; nothing recorded yet."""

    answer: T | None
    error: UpstreamError | SecretUnreadable | None
    started: datetime
    duration_ms: int


def ask_upstream(ask: Callable[[float], T]) -> Asked[T]:
    """`ask(deadline)` with one deadline for the whole poll (POLL_DEADLINE_SECONDS; the HTTP layer
    cuts any request that would outlive it). An upstream error, or a secret no key decrypts, is
    returned, not raised; `record_asked_failure` records it."""
    started, clock = timezone.now(), time.monotonic()
    try:
        answer = ask(clock + settings.POLL_DEADLINE_SECONDS)
    except (UpstreamError, SecretUnreadable) as error:
        return _asked(None, error, started, clock)
    return _asked(answer, None, started, clock)


async def ask_upstream_async(
    ask: Callable[[float], Awaitable[T]], *, url: str, queue_until: float | None = None
) -> Asked[T]:
    """`ask_upstream` for a coroutine (the poll loop, `upstream/http_async.py`). The poll's clock,
    its deadline and its `started` start once it has a slot for `url`'s host (`http_async.turn`):
    waiting in this process's queue is not the upstream's time. Past `queue_until` without a slot,
    `http_async.NotAsked` (nothing sent, nothing to record)."""
    async with http_async.turn(url, until=queue_until):
        started, clock = timezone.now(), time.monotonic()
        try:
            answer = await ask(clock + settings.POLL_DEADLINE_SECONDS)
        except (UpstreamError, SecretUnreadable) as error:
            return _asked(None, error, started, clock)
        return _asked(answer, None, started, clock)


def _asked(
    answer: T | None, error: UpstreamError | SecretUnreadable | None, started: datetime, clock: float
) -> Asked[T]:
    return Asked(answer, error, started, int((time.monotonic() - clock) * 1000))


def record_asked_failure(source: Source, asked: Asked[Any]) -> PollOutcome:
    assert asked.error is not None
    with write_transaction():
        changes = record_failure(source, asked.error, started=asked.started, duration_ms=asked.duration_ms)
    return PollOutcome(str(source), ok=False, error_kind=error_kind(asked.error), changes=changes)


def fetch(source: Source, ask: Callable[[float], T]) -> Fetched[T]:
    """Ask the upstream for `source`'s state (`ask_upstream`); an error is recorded here
    (`record_failure`) and returned as `failed`."""
    asked = ask_upstream(ask)
    if asked.error is not None:
        return Fetched(None, asked.started, asked.duration_ms, record_asked_failure(source, asked))
    return Fetched(asked.answer, asked.started, asked.duration_ms)


def polled_since(source: Source, dispatched_at: datetime | None) -> bool:
    return dispatched_at is not None and source.last_polled_at is not None and source.last_polled_at >= dispatched_at


def error_kind(error: Exception) -> str:
    if isinstance(error, TransientError):
        return error.reason
    if isinstance(error, UpstreamError):
        return error.kind
    return "secret_unreadable"


def _attempt(source: Source, **fields: Any) -> PollAttempt:
    return PollAttempt.objects.create(**links(source), **fields)


@dataclass(frozen=True)
class HealthDecision:
    severity: str
    notify: bool
    alert_open: bool  # whether an incident is open for the source afterwards


def decide_health_change(source: Source, old: str, new: str) -> HealthDecision:
    """Who hears of a health move, and whether it opens or closes an incident. Pure: the
    compare-and-set in `_set_health` makes sure it is acted on once."""
    first_observation = old == Health.PENDING
    if new == Health.OK:
        if source.health_alert_open:
            return HealthDecision(Severity.RECOVERY, notify=True, alert_open=False)
        return HealthDecision(Severity.INFO, notify=False, alert_open=False)
    if first_observation and new != Health.FAILING:
        return HealthDecision(Severity.INFO, notify=False, alert_open=source.health_alert_open)
    return HealthDecision(Severity.PROBLEM, notify=True, alert_open=True)


def _set_health(source: Source, new: str, *, reason: str, now: datetime) -> list[StatusChange]:
    """Move the source's health to `new` and record the change, once. Two polls of one source can
    overlap (Redis down, a lease outlived): each decided from the row it loaded, so the move is a
    conditional UPDATE on the health it started from, and only the poll whose UPDATE changed the
    row writes the change. The loser takes the row as the winner left it. The health fields are
    written here only, never by the poll's closing save (`SOURCE_FIELDS`)."""
    old = source.health
    if old == new:
        return []
    decision = decide_health_change(source, old, new)
    expected = {"health": old, "health_alert_open": source.health_alert_open}
    if not claim(source, expected, {"health": new, "health_since": now, "health_alert_open": decision.alert_open}):
        return []
    return [
        record_change(
            ChangeKind.SOURCE_HEALTH,
            decision.severity,
            at=now,
            old=old,
            new=new,
            reason=reason,
            notify=decision.notify,
            **links(source),
        )
    ]


def _confirm_first_verdict(source: Source, *, reason: str, now: datetime) -> list[StatusChange]:
    """A source whose very first answer was a 401/403/404 is recorded quietly (whoever added it was
    just shown that answer by the form or the command); a poll that gives the same verdict at least
    half an interval later (the next scheduled one, not a "poll now" click) alerts, once
    (compare-and-set, like every health move). Only good states stay silent for good on a first
    observation."""
    if source.health_alert_open or source.health not in (Health.CREDENTIAL_REJECTED, Health.NOT_FOUND):
        return []
    if now - source.health_since < source.interval / 2:
        return []
    if not claim(source, {"health": source.health, "health_alert_open": False}, {"health_alert_open": True}):
        return []
    return [
        record_change(
            ChangeKind.SOURCE_HEALTH,
            Severity.PROBLEM,
            at=now,
            old=source.health,
            new=source.health,
            reason=f"since the first poll ({source.health_since:%Y-%m-%d %H:%M %Z}): {reason}",
            notify=True,
            **links(source),
        )
    ]


def record_success(
    source: Source, *, started: datetime, duration_ms: int, requests: int = 1, incomplete: str = ""
) -> list[StatusChange]:
    """Record a good answer. `incomplete` says what was missing from it (a listing cut by a budget
    or with bad items): its data is fresh, so the source is not stale, but an answer that stays
    incomplete for POLL_FAILING_AFTER_INTERVALS is "failing", and alerts, like any other answer
    that never comes whole (a disable among the missing items would otherwise go unseen).
    The caller saves the source (`SOURCE_FIELDS` and what else it set), in one UPDATE with the
    rest of the poll."""
    note = fit(PollAttempt, "message", incomplete)
    _attempt(source, started_at=started, duration_ms=duration_ms, ok=True, requests=requests, message=note)
    source.last_polled_at = source.last_success_at = started
    source.next_poll_at = next_poll_time(started, source.interval)
    source.stale_after = started + 2 * source.interval
    if not incomplete:
        source.failing_since = None
        source.last_error_kind = source.last_error_message = ""
        source.last_error_status = None
        return _set_health(source, Health.OK, reason="answered normally", now=started)
    source.failing_since = source.failing_since or started
    source.last_error_kind, source.last_error_status = "incomplete", None
    source.last_error_message = fit(source, "last_error_message", incomplete)
    if started - source.failing_since >= settings.POLL_FAILING_AFTER_INTERVALS * source.interval:
        return _set_health(source, Health.FAILING, reason=f"no complete answer since then: {incomplete}", now=started)
    if source.health == Health.FAILING:
        return []  # failing until a complete answer
    return _set_health(source, Health.OK, reason="answered (incompletely)", now=started)


def record_failure(
    source: Source, error: Exception, *, started: datetime, duration_ms: int, requests: int = 1
) -> list[StatusChange]:
    """A failed poll never touches connection state. Only 401/403 and 404 are verdicts on the
    source; anything else becomes "failing" once it has lasted POLL_FAILING_AFTER_INTERVALS."""
    kind = error_kind(error)
    status = getattr(error, "status", None)
    message = fit(PollAttempt, "message", str(error))
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
    source.last_error_kind, source.last_error_status = kind, status
    source.last_error_message = fit(source, "last_error_message", message)
    if source.failing_since is None:
        source.failing_since = started
    if isinstance(error, CredentialError | SecretUnreadable | NotFoundError):
        # A secret no key decrypts is as unusable as one the upstream rejects: the same alert.
        verdict = Health.NOT_FOUND if isinstance(error, NotFoundError) else Health.CREDENTIAL_REJECTED
        changes = _set_health(source, verdict, reason=message, now=started) or _confirm_first_verdict(
            source, reason=message, now=started
        )
    # Failing after the allowed intervals from a good state, or from an unconfirmed first verdict
    # (a source whose first answer was a 401 and that has timed out ever since must not stay quiet).
    elif (source.health in (Health.OK, Health.PENDING) or not source.health_alert_open) and (
        started - source.failing_since >= settings.POLL_FAILING_AFTER_INTERVALS * source.interval
    ):
        changes = _set_health(source, Health.FAILING, reason=f"no good answer since then: {message}", now=started)
    else:
        changes = []
    source.save(update_fields=SOURCE_FIELDS)
    return changes
