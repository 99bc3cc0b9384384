"""Running a call twice at once, from two threads with their own database connections."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection


def twice_at_once(call: Callable[..., object], *args: object) -> None:
    """`call(*args)` in two threads at once; any error in either fails the test."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            call(*args)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
