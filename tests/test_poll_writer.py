"""The process's poll writer: what is handed in within its window is written together, an urgent
job ends the window, and a backlog is written batch after batch without a window between."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from integrations_app.polling import writer as writer_module
from integrations_app.polling.writer import MAX_ITEMS, Writer

pytestmark = pytest.mark.django_db(transaction=True)  # the writer's thread has its own connection


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def __call__(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        return [item * 2 for item in items]


def test_jobs_handed_in_within_the_window_are_written_in_one_transaction(monkeypatch):
    monkeypatch.setattr(writer_module, "WINDOW", 1.0)  # wide enough for a busy machine
    writer, record = Writer(), Recorder()
    futures = [writer.submit(record, n) for n in range(5)]
    assert [future.result(timeout=5) for future in futures] == [0, 2, 4, 6, 8]
    assert record.batches == [[0, 1, 2, 3, 4]]


def test_an_urgent_job_ends_the_window_at_once(monkeypatch):
    monkeypatch.setattr(writer_module, "WINDOW", 5.0)
    writer, record = Writer(), Recorder()
    started = time.monotonic()
    futures = [writer.submit(record, n, urgent=n == 2) for n in range(3)]
    assert [future.result(timeout=10) for future in futures] == [0, 2, 4]
    assert time.monotonic() - started < 2, "the writer waited out its window"


def test_a_backlog_is_written_batch_after_batch_without_waiting_a_window(monkeypatch):
    """Jobs beyond one batch are already there: the writer writes on without waiting for more."""
    monkeypatch.setattr(writer_module, "WINDOW", 5.0)
    writer, record = Writer(), Recorder()
    total = 2 * MAX_ITEMS + 1
    started = time.monotonic()
    futures = [writer.submit(record, n, urgent=n == total - 1) for n in range(total)]
    assert [future.result(timeout=20) for future in futures] == [2 * n for n in range(total)]
    assert time.monotonic() - started < 2, "the writer waited a window with a backlog"
    assert sum(map(len, record.batches)) == total and max(map(len, record.batches)) <= MAX_ITEMS


def test_an_urgent_job_behind_a_full_batch_is_not_held_a_window(monkeypatch):
    """More than a batch waiting, the urgent job among the later ones: the batch after the first is
    written at once, not a window later."""
    monkeypatch.setattr(writer_module, "WINDOW", 5.0)
    writer, record = Writer(), Recorder()
    total = MAX_ITEMS + 10
    started = time.monotonic()
    futures = [writer.submit(record, n, urgent=n == total - 1) for n in range(total)]
    assert futures[-1].result(timeout=20) == 2 * (total - 1)
    assert time.monotonic() - started < 2, "the urgent job waited a window behind a full batch"
