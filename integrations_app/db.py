"""Write transactions that queue well on SQLite.

SQLite has one writer at a time. Threads that find the database locked wait in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms) and so leaves the database idle between
writers. Within one process, a Python lock hands the turn over at once instead. PostgreSQL has
row locks and needs nothing of the kind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_sqlite_writer = threading.Lock()


@contextmanager
def write_transaction() -> Iterator[None]:
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with _sqlite_writer, transaction.atomic():
            yield
    else:
        with transaction.atomic():
            yield
