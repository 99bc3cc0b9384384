"""The overlap lock, on the test Redis: a renewed lock outlives its timeout while held."""

from __future__ import annotations

import time

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
