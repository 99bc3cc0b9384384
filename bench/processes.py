"""Measuring the bench's real subprocesses (CPU, memory), and its signal handling. They are
started and stopped by the stack's one launcher (scripts/launcher.py, used by bench/stack.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path

import psutil

# Raised by the launcher; bench/run.py and bench/postgres.py catch it from here.
from scripts.launcher import StartupError  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU time of a process and its children so far."""
    process = psutil.Process(pid)
    user = system = 0.0
    for one in [process, *process.children(recursive=True)]:
        try:
            times = one.cpu_times()
        except psutil.Error:
            continue
        user, system = user + times.user, system + times.system
    return user, system


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (every process, ours or not) and in all."""
    times = psutil.cpu_times()
    total = sum(times)
    return total - times.idle - getattr(times, "iowait", 0.0), total


class RssSampler:
    """Peak resident memory of a process and its children, sampled every `period` seconds."""

    def __init__(self, pid: int, period: float = 0.1) -> None:
        self.process = psutil.Process(pid)
        self.period = period
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _sample(self) -> int:
        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += process.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._sample())
            except psutil.Error:
                return
            self._stop.wait(self.period)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def interrupt_on_signals() -> None:
    """Ctrl-C and SIGTERM (a CI timeout, `kill`) unwind the bench, so `finally` blocks stop the
    processes. Set explicitly: a shell starts background jobs with SIGINT ignored."""

    def raise_interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, raise_interrupt)


def environment(base: dict[str, str]) -> dict[str, str]:
    """The bench's environment for every subprocess: PATH and locale from ours, the rest explicit."""
    keep = {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "HOME", "TMPDIR") if name in os.environ}
    return {**keep, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", **base}
