"""Overlap locks in Redis, so one source is never polled twice at once, whatever the number of
workers. A lock expires on its own (a killed worker cannot hold it forever); a renewed lock has its
expiry pushed back while its holder is alive, so a slow poll cannot outlive it."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import redis
from django.conf import settings
from redis.commands.core import Script
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

logger = logging.getLogger(__name__)


@cache
def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=3, socket_connect_timeout=2)


@contextmanager
def exclusive(name: str, *, timeout: int, required: bool = True, renew: bool = False) -> Iterator[bool]:
    """Yield True when this process holds the lock `name`, False when another one does.

    With `required=False` (the `poll --sync` command, which needs no broker) an unreachable Redis
    lets the work go ahead unlocked rather than not at all. With `renew=True` a thread resets the
    lock's expiry to `timeout` every third of it while the work runs: the lock then lasts as long as
    its holder, and still runs out `timeout` after a killed one.
    """
    # Not thread-local: the renewing thread must see the token this thread acquired with.
    lock = redis_client().lock(f"paystatus:lock:{name}", timeout=timeout, blocking=False, thread_local=False)
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
    renewer = _Renewer(lock, name, every=timeout / 3) if renew else None
    try:
        yield True
    finally:
        if renewer is not None:
            renewer.stop()
        try:
            lock.release()
        except (LockError, RedisError):
            logger.warning("lock %s expired before its work finished", name)


class _Renewer(threading.Thread):
    def __init__(self, lock: Lock, name: str, *, every: float) -> None:
        super().__init__(name=f"renew {name}", daemon=True)
        self.lock, self.every = lock, every
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(self.every):
            try:
                self.lock.reacquire()  # token-checked: only the holder can push the expiry back
            except LockError:
                logger.warning("lock %s was lost before its work finished", self.lock.name)
                return
            except RedisError:
                logger.warning("could not renew lock %s; trying again", self.lock.name)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


# Token-checked on every key, as redis-py's own Lock scripts are, for a batch in one round trip.
# Taking is one command for the batch, not one SET each: at 64 keys a batch, packing 64 commands
# was most of the lock's CPU.
_TAKE_MANY = """
local taken = {}
for index, key in ipairs(KEYS) do
  taken[index] = redis.call('set', key, ARGV[1], 'NX', 'PX', ARGV[2]) and 1 or 0
end
return taken
"""
_RELEASE_MANY = """
local freed = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then freed = freed + redis.call('del', key) end
end
return freed
"""
_RENEW_MANY = """
local kept = 0
for _, key in ipairs(KEYS) do
  if redis.call('get', key) == ARGV[1] then kept = kept + redis.call('pexpire', key, ARGV[2]) end
end
return kept
"""


def _script(client: redis.Redis, source: str) -> Callable[..., Any]:
    """A Lua script sent once and then called by its digest (EVALSHA) on `client`, the one a batch
    took its locks with: building one only hashes its source."""
    script: Script = client.register_script(source)
    return script


@contextmanager
def exclusive_many(names: list[str], *, timeout: int, required: bool = True) -> Iterator[set[str]]:
    """`exclusive(name, renew=True)` for a batch of names in three round trips instead of three per
    name: yield the names this process now holds (the others are held elsewhere). The same keys and
    the same rules as `exclusive`: each lock runs out `timeout` after its holder dies, is renewed
    every third of it while held, and is released only by the token that took it."""
    if not names:
        yield set()
        return
    client = redis_client()
    token = uuid.uuid4().hex
    keys = [f"paystatus:lock:{name}" for name in names]
    try:
        taken = _script(client, _TAKE_MANY)(keys=keys, args=[token, timeout * 1000])
    except RedisError:
        if required:
            raise
        logger.warning("Redis is unreachable; running %d polls without their overlap locks", len(names))
        yield set(names)
        return
    held = [key for key, ok in zip(keys, taken, strict=True) if ok]
    renewer = _BatchRenewer(client, held, token, timeout=timeout) if held else None
    try:
        yield {name for name, ok in zip(names, taken, strict=True) if ok}
    finally:
        if renewer is not None:
            renewer.stop()
            try:
                _script(client, _RELEASE_MANY)(keys=held, args=[token])
            except RedisError:
                logger.warning("could not release %d poll locks; they run out on their own", len(held))


class _BatchRenewer(threading.Thread):
    def __init__(self, client: redis.Redis, keys: list[str], token: str, *, timeout: int) -> None:
        super().__init__(name="renew poll locks", daemon=True)
        self.client, self.keys, self.token, self.timeout = client, keys, token, timeout
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.wait(self.timeout / 3):
            try:
                kept = _script(self.client, _RENEW_MANY)(keys=self.keys, args=[self.token, self.timeout * 1000])
            except RedisError:
                logger.warning("could not renew %d poll locks; trying again", len(self.keys))
                continue
            if kept != len(self.keys):
                logger.warning(
                    "%d of %d poll locks were lost before their work finished", len(self.keys) - kept, len(self.keys)
                )

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)
