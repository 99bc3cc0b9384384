"""One database writer per worker process, so polls are written in batches.

A polling thread hands each answer to `submit` and goes on with its next request; the writer
thread gathers what every polling thread of the process handed in over a few milliseconds and
writes it in one transaction (`write_transaction`: one turn of SQLite's write queue instead of one
per poll), with a handler per kind of work that writes its items in a few statements. The thread
that submitted waits for its results only when its batch is done (`urgent` then writes at once),
so a slow upstream held by one thread never holds back another's writes.

A database error fails every item of the transaction (the polls' tasks retry, as before); any other
error is the handler's to report per item.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import close_old_connections

from integrations_app.polling.write_queue import write_transaction

WINDOW = 0.05  # seconds to gather more items after the first, unless one is urgent
MAX_ITEMS = 200

Item = TypeVar("Item")
Result = TypeVar("Result")
Handler = Callable[[Sequence[Any]], Sequence[Any]]  # items → one result (or exception) per item


@dataclass
class _Job(Generic[Item]):
    handler: Handler
    item: Item
    urgent: bool
    future: Future[Any] = field(default_factory=Future)


class Writer:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # Ends the writer's window early: set by an urgent job, or by the one that fills a batch.
        self._wake = threading.Event()

    def submit(self, handler: Handler, item: Any, *, urgent: bool = False) -> Future[Any]:
        """Queue `item` for `handler(items)`; the future gets its result, or its exception."""
        self._ensure_thread()
        job: _Job[Any] = _Job(handler, item, urgent)
        self._queue.put(job)
        if urgent or self._batch_waiting():
            self._wake.set()
        return job.future

    def _batch_waiting(self) -> bool:
        """Whether the queue holds a whole batch, counting the one job the writer may hold already."""
        return self._queue.qsize() >= MAX_ITEMS - 1

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="poll-writer", daemon=True)
                self._thread.start()

    def _gather(self) -> list[_Job[Any]]:
        """The first job (waited for), then what arrives within WINDOW. The window is waited on an
        event that only an urgent job or a full batch sets, not on the queue: waiting on the queue
        woke this thread for every job handed in, a thread switch per poll (~5 % of a steady
        poll's CPU in a profile). An event left set by a job already taken only makes the next
        window end early."""
        jobs = [self._queue.get()]
        if not jobs[0].urgent and not self._batch_waiting():  # a backlog is written at once
            self._wake.wait(WINDOW)
        self._wake.clear()
        while len(jobs) < MAX_ITEMS:  # whatever has arrived, without waiting
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if len(jobs) == MAX_ITEMS and not self._queue.empty():
            self._wake.set()  # a backlog (an urgent job in it, perhaps): the next window ends at once
        return jobs

    def _run(self) -> None:
        while True:
            jobs = self._gather()
            try:
                self._write(jobs)
            except BaseException as error:  # handed to every waiting thread
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(error)
                close_old_connections()  # a broken connection is replaced before the next batch

    def _write(self, jobs: list[_Job[Any]]) -> None:
        groups: dict[Handler, list[_Job[Any]]] = {}
        for job in jobs:
            groups.setdefault(job.handler, []).append(job)
        results: list[tuple[_Job[Any], Any]] = []
        with write_transaction():
            for handler, members in groups.items():
                answers = handler([job.item for job in members])
                results += zip(members, answers, strict=True)
        for job, answer in results:
            if isinstance(answer, BaseException):
                job.future.set_exception(answer)
            else:
                job.future.set_result(answer)


writer = Writer()
