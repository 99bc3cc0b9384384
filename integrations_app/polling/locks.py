"""Overlap locks in Redis, so one source is never polled twice at once, whatever the number of
workers. A lock expires on its own (a killed worker cannot hold it forever)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import redis
from django.conf import settings
from redis.exceptions import LockError, RedisError

logger = logging.getLogger(__name__)


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=2)


@contextmanager
def exclusive(name: str, *, timeout: int, required: bool = True) -> Iterator[bool]:
    """Yield True when this process holds the lock `name`, False when another one does.

    With `required=False` (the `poll --sync` command, which needs no broker) an unreachable Redis
    lets the work go ahead unlocked rather than not at all.
    """
    lock = redis_client().lock(f"paystatus:lock:{name}", timeout=timeout, blocking=False)
    try:
        acquired = lock.acquire()
    except RedisError:
        if required:
            raise
        logger.warning("Redis is unreachable; running %s without its overlap lock", name)
        yield True
        return
    if not acquired:
        yield False
        return
    try:
        yield True
    finally:
        try:
            lock.release()
        except (LockError, RedisError):
            logger.warning("lock %s expired before its work finished", name)
