"""Real subprocesses for the bench (sandbox, Redis, Celery worker and beat), each with its own log
file in the bench's temporary directory, stopped by pid whatever happens (also on Ctrl-C)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0


class StartupError(RuntimeError):
    pass


class Supervisor:
    """Starts named processes and stops every one of them, newest first, by pid."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready: Callable[[], bool],
        timeout: float = 30,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        if name in self.processes:
            raise StartupError(f"{name} is already running")
        with self.log_path(name).open("ab") as log:
            # Its own session: a Ctrl-C in the terminal reaches only the bench, which stops the rest.
            process = subprocess.Popen(
                argv,
                cwd=ROOT,
                env={**self.env, **(env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = process
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StartupError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")
            try:
                if ready():
                    return process
            except Exception:  # noqa: S110 (not ready yet, whatever the probe raised)
                pass
            time.sleep(0.1)
        raise StartupError(f"{name} was not ready after {timeout:.0f} s:\n{self.tail(name)}")

    def stop(self, name: str, timeout: float = 15) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def tail(self, name: str, lines: int = 30) -> str:
        path = self.log_path(name)
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise StartupError(f"{name} died with {process.returncode}:\n{self.tail(name)}")


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


def python() -> str:
    return str(BIN / "python")


def celery() -> str:
    return str(BIN / "celery")


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
