"""How a tick's due sources are cut into broker messages (`polling.dispatch.batch_size`)."""

from __future__ import annotations

import math

import pytest

from integrations_app.polling.dispatch import batch_size, chunks


@pytest.mark.parametrize(
    ("due", "concurrency", "size", "messages"),
    [
        (3, 32, 1, 3),  # a few: one a message, all at once
        (5_005, 32, 79, 64),  # the bench's 5,000: two batches per polling thread
        (50_005, 64, 256, 196),  # 50,000: the cap, 196 messages instead of 782 at 64 a batch
    ],
)
def test_a_tick_on_the_poll_loop_sends_about_two_batches_per_polling_thread(settings, due, concurrency, size, messages):
    """Each message costs the dispatch a broker round trip and a worker a fixed price, so fewer is
    cheaper; but every polling thread needs a batch until the cycle's end, or its process's share
    of the bound is left unused while the others finish."""
    settings.POLL_CONCURRENCY = concurrency
    assert batch_size(due, concurrent=True) == size
    assert len(chunks(list(range(due)), size)) == messages
    assert messages >= min(due, concurrency)  # every thread has work


def test_a_tick_polled_one_after_another_keeps_its_small_batches(settings):
    """Without the poll loop a batch is polled one source after another: its size bounds nothing
    but the wait of its last source, so it stays at POLL_BATCH_MAX."""
    settings.POLL_CONCURRENCY = 32
    assert batch_size(5_005) == settings.POLL_BATCH_MAX == 8
    assert batch_size(100) == math.ceil(100 / (32 * 4))
