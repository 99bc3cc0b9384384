"""Write transactions that queue well on SQLite.

SQLite has one writer at a time. A writer that finds the database locked waits in SQLite's busy
handler, which sleeps in growing steps (up to 100 ms), so the database sits idle between writers
and polls crawl when many threads and worker processes write. An exclusive `flock` on a file
beside the database queues them in the kernel instead, which hands the turn over at once. Each
thread opens its own descriptor, so threads of one process queue too. PostgreSQL has row locks
and needs nothing of the kind.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction

_local = threading.local()


def _lock_file(database: str) -> int:
    descriptors: dict[str, int] = getattr(_local, "descriptors", None) or {}
    _local.descriptors = descriptors
    if database not in descriptors:
        descriptors[database] = os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    return descriptors[database]


@contextmanager
def write_transaction() -> Iterator[None]:
    database = str(connection.settings_dict["NAME"])
    queue = connection.vendor == "sqlite" and not connection.in_atomic_block and ":memory:" not in database
    if not queue:
        with transaction.atomic():
            yield
        return
    descriptor = _lock_file(database)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    try:
        with transaction.atomic():
            yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
