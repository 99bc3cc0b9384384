"""The bench's dispatch time (`bench/cycle.py: dispatch_window`), read from the dispatch task's
start and end events."""

from __future__ import annotations

from bench.cycle import dispatch_window


def events(*dispatches: tuple[str, float, float, int]) -> list[dict[str, object]]:
    logged: list[dict[str, object]] = []
    for task_id, start, end, dispatched in dispatches:
        logged += [
            {"event": "start", "id": task_id, "at": start},
            {"event": "end", "id": task_id, "at": end, "dispatched": dispatched},
        ]
    return logged


def test_the_dispatch_is_timed_until_every_source_is_handed_out():
    """A tick that lands while the cycle's sources are being made due claims only some of them; the
    next tick claims the rest. The dispatch lasts until the last of them is handed out (the bench
    reported 0.2 s for 50,000 due sources from the first, partial, tick)."""
    logged = events(("idle", 0.0, 0.1, 0), ("part", 1.0, 1.2, 300), ("rest", 2.0, 4.5, 49_705))
    assert dispatch_window(logged, 50_005) == (1.0, 4.5)


def test_a_dispatch_of_every_source_at_once_is_timed_alone():
    logged = events(("all", 1.0, 3.0, 50_005), ("later", 9.0, 9.1, 5))
    assert dispatch_window(logged, 50_005) == (1.0, 3.0)


def test_no_dispatch_that_handed_out_polls_is_no_window():
    assert dispatch_window(events(("idle", 0.0, 0.1, 0)), 10) is None
