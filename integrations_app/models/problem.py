"""What is wrong with a source, in one documented order: the one derivation of "is anything broken".

`derive()` turns a source's facts into its problem, and the moment time alone would change it
(a source going stale, a Paddle key reaching its warning or its expiry). Sources store the result
(`problem_rank`, `problem_recheck_at`) whenever they are saved, and beat re-derives the rows whose
recheck time has come (`integrations_app.problems.refresh_due`), so every page, count, filter, sort,
JSON answer and email reads one indexed column, whatever the number of sources.

The order, most serious first (a source shows the first that applies):
  credential rejected → not found → disconnected (naming what) → integration disabled or gone →
  Paddle key expired → failing → stale → Paddle key expiring → paused → not polled yet → ok
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import models

PADDLE_WARNING = timedelta(days=14)


class Problem(models.TextChoices):
    """In order of precedence: a lower position is more serious and sorts first."""

    CREDENTIAL_REJECTED = "credential_rejected", "Credential rejected"
    NOT_FOUND = "not_found", "Not found"
    DISCONNECTED = "disconnected", "Disconnected"
    INTEGRATION_LOST = "integration_lost", "Integration disabled or gone"
    PADDLE_EXPIRED = "paddle_expired", "Paddle key expired"
    FAILING = "failing", "Failing to poll"
    STALE = "stale", "Stale"
    PADDLE_EXPIRING = "paddle_expiring", "Paddle key expiring"
    PAUSED = "paused", "Paused"
    PENDING = "pending", "Not polled yet"
    OK = "ok", "OK"


ORDER: list[Problem] = list(Problem)
RANK = {problem: position for position, problem in enumerate(ORDER)}


@dataclass(frozen=True)
class Facts:
    """What a source's problem depends on. Health words are `Health` values (models/sources.py)."""

    health: str = "pending"
    enabled: bool = True
    stale_after: datetime | None = None
    disconnected: bool = False  # a provider is disconnected now and people heard of it (websites)
    integration_lost: bool = False  # an integration it sees was disabled outside, or vanished
    paddle_watched: bool = False  # Paddle is connected and its key has an expiry (websites)
    paddle_expires_at: datetime | None = None


def paddle_state(watched: bool, expires_at: datetime | None, now: datetime) -> str:
    """none / ok / expiring / expired for a Paddle key: the poller's verdict and the pages' view."""
    if not watched or expires_at is None:
        return "none"
    if expires_at <= now:
        return "expired"
    if expires_at <= now + PADDLE_WARNING:
        return "expiring"
    return "ok"


def derive(facts: Facts, now: datetime) -> tuple[Problem, datetime | None]:
    """The source's problem at `now`, and the next moment time alone would change it."""
    return _problem(facts, now), _recheck_at(facts, now)


def _problem(facts: Facts, now: datetime) -> Problem:  # noqa: PLR0911 (one line per rule, in ORDER)
    paddle = paddle_state(facts.paddle_watched, facts.paddle_expires_at, now)
    if facts.health == "credential_rejected":
        return Problem.CREDENTIAL_REJECTED
    if facts.health == "not_found":
        return Problem.NOT_FOUND
    if facts.disconnected:
        return Problem.DISCONNECTED
    if facts.integration_lost:
        return Problem.INTEGRATION_LOST
    if paddle == "expired":
        return Problem.PADDLE_EXPIRED
    if facts.health == "failing":
        return Problem.FAILING
    # A paused source goes stale by design; it shows as paused instead.
    if facts.enabled and facts.stale_after is not None and facts.stale_after < now:
        return Problem.STALE
    if paddle == "expiring":
        return Problem.PADDLE_EXPIRING
    if not facts.enabled:
        return Problem.PAUSED
    if facts.health == "pending":
        return Problem.PENDING
    return Problem.OK


def _recheck_at(facts: Facts, now: datetime) -> datetime | None:
    """The earliest future moment at which a fact compared with the clock flips."""
    moments = []
    if facts.enabled and facts.stale_after is not None:
        moments.append(facts.stale_after)
    if facts.paddle_watched and facts.paddle_expires_at is not None:
        moments += [facts.paddle_expires_at - PADDLE_WARNING, facts.paddle_expires_at]
    future = [moment for moment in moments if moment >= now]
    return min(future) if future else None


def derive_organisation(*, integration_lost: bool, polled: bool, working: bool) -> Problem:
    """An organisation has no polling of its own: an integration it lost is its problem, else it is
    as fresh as the best key that reaches it (stale when keys reached it but none works now)."""
    if integration_lost:
        return Problem.INTEGRATION_LOST
    if not polled:
        return Problem.PENDING
    return Problem.OK if working else Problem.STALE
