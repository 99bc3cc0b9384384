from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import DatabaseError
from django.http import HttpRequest
from redis.exceptions import RedisError

from integrations_app.watcher import watcher_report

BROKER_CHECK_SECONDS = 10
WATCHER_CACHE_KEY = "watcher-banner"
_last = {"at": -BROKER_CHECK_SECONDS * 2.0, "ok": 1.0}


@cache
def _quick_client() -> redis.Redis:
    # A short timeout: a page must not wait on a broker that is gone.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.3, socket_connect_timeout=0.3)


def broker_reachable() -> bool:
    """Remembered for a few seconds in this process (not in Redis, which may be the thing down)."""
    now = time.monotonic()
    if now - _last["at"] > BROKER_CHECK_SECONDS:
        try:
            ok = bool(_quick_client().ping())
        except RedisError:
            ok = False
        _last.update(at=now, ok=float(ok))
    return bool(_last["ok"])


def broker_notice(request: HttpRequest) -> dict[str, bool]:
    """`broker_down` in every page: pages render from the database even when Redis is gone, and say so."""
    if not request.user.is_authenticated:
        return {"broker_down": False}
    return {"broker_down": not broker_reachable()}


def watcher_notice(request: HttpRequest) -> dict[str, Callable[[], list[str]]]:
    """`watcher_problems` in every page: what `/healthz` reports as degraded, in words. Computed
    only when a template shows it (the overview's live fragment does not)."""

    @cache
    def problems() -> list[str]:
        if not request.user.is_authenticated:
            return []
        try:
            # Remembered for a few seconds in this process (the cache is local, not in Redis):
            # the aggregates cost more than a page should pay on every request.
            found: list[str] | None = django_cache.get_or_set(
                WATCHER_CACHE_KEY, lambda: watcher_report().problems, BROKER_CHECK_SECONDS
            )
            return found or []  # the default is a list, so never None
        except DatabaseError:
            return ["the database cannot be read"]

    return {"watcher_problems": problems}
