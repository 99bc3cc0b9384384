"""The overlap lock, on the test Redis: a renewed lock outlives its timeout while held."""

from __future__ import annotations

import time

import redis

from integrations_app.polling import locks
from integrations_app.polling.locks import exclusive


def test_a_renewed_lock_is_held_past_its_timeout_and_freed_after(redis_clean):
    with exclusive("renewal-test", timeout=1, renew=True) as mine:
        assert mine
        time.sleep(2.5)  # two and a half timeouts
        with exclusive("renewal-test", timeout=1) as theirs:
            assert not theirs, "the lock expired while its holder was alive"
    with exclusive("renewal-test", timeout=1) as again:
        assert again


def test_a_lock_without_renewal_still_expires_on_its_own(redis_clean):
    with exclusive("expiry-test", timeout=1) as mine:
        assert mine
        time.sleep(1.3)
        with exclusive("expiry-test", timeout=1) as theirs:
            assert theirs


def test_a_batch_takes_renews_and_frees_its_locks_on_one_redis_client(redis_clean, monkeypatch):
    """One client (one connection pool) a batch: a client each for taking, renewing and freeing
    opened a Redis connection apiece, per batch, thousands of times a cycle."""
    made: list[redis.Redis] = []

    def counted() -> redis.Redis:
        made.append(client := make_client())
        return client

    make_client = locks.redis_client
    monkeypatch.setattr(locks, "redis_client", counted)
    names = [f"batch-test:{number}" for number in range(3)]
    with locks.exclusive_many(names, timeout=1) as held:
        assert held == set(names)
        time.sleep(1.5)  # renewed at least once, past its timeout
        with locks.exclusive_many(names, timeout=1) as theirs:
            assert theirs == set(), "a lock expired while its batch was running"
    assert len(made) == 2  # the batch's one client, and the second batch's
    with locks.exclusive_many(names, timeout=1) as again:
        assert again == set(names), "the batch did not free its locks"
