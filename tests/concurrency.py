"""Running calls in threads of their own, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection


def _in_a_thread(call: Callable[[], object], errors: list[BaseException]) -> threading.Thread:
    """`call()` started in a thread that closes its connection at the end; what it raises goes
    into `errors`."""

    def run() -> None:
        try:
            call()
        except BaseException as error:  # reported by the caller
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def twice_at_once(call: Callable[..., object], *args: object) -> None:
    """`call(*args)` in two threads at once; any error in either fails the test."""
    errors: list[BaseException] = []
    threads = [_in_a_thread(lambda: call(*args), errors) for _ in range(2)]
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []


@contextmanager
def in_another_connection(steps: Callable[[], None]) -> Iterator[list[BaseException]]:
    """Run `steps` in a thread of its own (its own database connection) while the block runs; the
    block's end waits for the thread. Yields the errors the thread raised."""
    errors: list[BaseException] = []
    thread = _in_a_thread(steps, errors)
    try:
        yield errors
    finally:
        thread.join(timeout=30)
        assert not thread.is_alive(), "the other transaction never ended"
