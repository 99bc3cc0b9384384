"""The one launcher of the stack's processes, shared by `make run` (scripts/run.py), the bench
(bench/stack.py) and the reliability tests (tests/reliability/processes.py).

It holds two things:
- how each process of the stack is started: the command lines, once (`web_command` and so on);
- how a set of them runs so that none outlives its launcher. Each child leads its own process
  group, so a signal reaches what it forked too (gunicorn's workers). A stop sends SIGTERM to every
  group at once, infrastructure (Redis, the sandbox) last so that workers can still reach them while
  they shut down, and SIGKILL to whatever is left when the time is up. On Linux each child is also
  told to die with its launcher (PR_SET_PDEATHSIG), so even a launcher killed with SIGKILL leaves
  nothing behind.

honcho runs a Procfile in the foreground and stops it on Ctrl-C, but it cannot start one process and
wait until it is ready, stop or kill a single one, or write each to a log file, which the bench and
the tests need; its Printer still formats `make run`'s console (scripts/run.py).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dashboard import queues

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable  # every launcher runs under the venv's Python; its children do too

# --- The processes of the stack ----------------------------------------------------------------


def web_command(host: str, port: int, *, access_log: str = "-", log_level: str = "info") -> list[str]:
    """gunicorn serving the dashboard. A short graceful timeout: a browser's kept-alive connection
    would otherwise hold a stop for gunicorn's default 30 s."""
    return [
        *(PYTHON, "-m", "gunicorn", "dashboard.wsgi", "--bind", f"{host}:{port}", "--workers", "2", "--threads", "4"),
        *("--graceful-timeout", "5", "--access-logfile", access_log, "--error-logfile", "-", "--log-level", log_level),
    ]


def worker_command(
    name: str,
    *,
    threads: int,
    app: str = "dashboard",
    log_level: str = "INFO",
    heartbeat: bool = True,
    banner: bool = True,
    queues: Sequence[str] = (),
) -> list[str]:
    """A Celery worker with a thread pool (polls wait on the network, see docs/decisions.md), taking
    the tasks of `queues` (dashboard/queues.py), or of every queue."""
    argv = [PYTHON, "-m", "celery", "-A", app, *([] if banner else ["--quiet"]), "worker"]
    argv += ["--pool", "threads", "--concurrency", str(threads), "--hostname", f"{name}@%h"]
    argv += ["--queues", ",".join(queues)] if queues else []
    argv += ["--without-mingle", "--without-gossip", "--loglevel", log_level]
    return argv + ([] if heartbeat else ["--without-heartbeat"])


def worker_processes(polling: int, threads: int) -> list[tuple[str, int, str]]:
    """(name, threads, queue) of each Celery worker a stack starts: `polling` workers of `threads`
    threads on the upstream queue, and one worker of its own for the control queue, so a dispatch
    tick or an alert never waits behind a cycle's polls (dashboard/queues.py)."""
    pollers = [(f"worker-{number}", threads, queues.UPSTREAM) for number in range(1, polling + 1)]
    return [*pollers, ("control", queues.CONTROL_THREADS, queues.CONTROL)]


def beat_command(
    schedule: Path, *, log_level: str = "INFO", max_interval: int | None = None, banner: bool = True
) -> list[str]:
    argv = [PYTHON, "-m", "celery", "-A", "dashboard", *([] if banner else ["--quiet"]), "beat"]
    argv += ["--schedule", str(schedule), "--loglevel", log_level]
    return argv + ([] if max_interval is None else ["--max-interval", str(max_interval)])


def redis_command(
    binary: str, port: int, directory: Path, *, persist: bool = True, logfile: Path | None = None
) -> list[str]:
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--loglevel", "warning"]
    argv += [] if logfile is None else ["--logfile", str(logfile)]
    return argv + ([] if persist else ["--save", "", "--appendonly", "no"])


def sandbox_command(port: int, *, scenario: str, log_requests: bool = True, state_file: str | None = None) -> list[str]:
    """The simulator beside the product (`python -m sandbox`); `state_file` keeps its world across
    restarts (make run's demo)."""
    argv = [PYTHON, "-m", "sandbox", "--host", "127.0.0.1", "--port", str(port), "--scenario", scenario]
    argv += ["--state-file", state_file] if state_file else []
    return argv + ([] if log_requests else ["-v", "0"])


# --- Running them ----------------------------------------------------------------------------


class StartupError(RuntimeError):
    """A process exited, or was not ready in time, while starting; the message ends with its log."""


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function that asks Linux to SIGTERM the child when its launcher dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: nothing to load after fork
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


_PREEXEC = _die_with_parent()


@dataclass(eq=False)
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    infrastructure: bool = False  # stopped after the others, which may need it to shut down
    reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 40) -> str:
        state = "alive" if self.alive() else f"exited with {self.process.returncode}"
        return f"--- {self.name} (pid {self.pid}, {state}) ---\n" + "\n".join(self.log().splitlines()[-lines:])

    def signal_group(self, signum: int) -> None:
        """Signal the child and everything in its process group (which outlives the child while
        anything it forked is still running)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL: no shutdown, nothing acknowledged or cleaned up, as when a machine dies."""
        self.signal_group(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._drain()

    def _drain(self) -> None:
        if self.reader is not None:
            self.reader.join(timeout=2)


LineSink = Callable[[str, bytes], None]


@dataclass
class Launcher:
    """Starts named processes in `cwd` with `env`, each logging to `logdir/<name>.log` (and, given a
    `console`, each line also to it), and stops all of them with `stop_all()` or on leaving `with`."""

    logdir: Path
    env: Mapping[str, str]
    cwd: Path = ROOT
    console: LineSink | None = None
    children: dict[str, Child] = field(default_factory=dict)

    def log_path(self, name: str) -> Path:
        return self.logdir / f"{name}.log"

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        ready: Callable[[], object] | None = None,
        timeout: float = 30,
        env: Mapping[str, str] | None = None,
        infrastructure: bool = False,
    ) -> Child:
        """Start `argv`; with `ready`, return once it returns something truthy (what it raises counts
        as not yet), or raise StartupError when the process exits or `timeout` passes first."""
        previous = self.children.get(name)
        if previous is not None and previous.alive():
            raise StartupError(f"{name} is already running")
        self.logdir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path(name)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                argv,
                cwd=self.cwd,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log if self.console is None else subprocess.PIPE,
                stderr=subprocess.STDOUT,
                # Its own group and session: a Ctrl-C in the terminal reaches the launcher only,
                # which then stops everything in order.
                start_new_session=True,
                preexec_fn=_PREEXEC,  # noqa: PLW1509 (a single C call, resolved before the fork)
            )
        child = Child(name, process, log_path, infrastructure)
        if self.console is not None:
            child.reader = threading.Thread(target=self._relay, args=(child,), name=f"relay-{name}", daemon=True)
            child.reader.start()
        self.children[name] = child
        if ready is not None:
            self.wait_ready(child, ready, timeout=timeout)
        return child

    def _relay(self, child: Child) -> None:
        """Copy the child's output, line by line, to its log file and to the console."""
        assert child.process.stdout is not None and self.console is not None
        with child.log_path.open("ab") as log:
            for line in iter(child.process.stdout.readline, b""):
                log.write(line)
                log.flush()
                self.console(child.name, line)

    def wait_ready(self, child: Child, ready: Callable[[], object], *, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                child._drain()
                raise StartupError(f"{child.name} exited while starting:\n{child.tail()}")
            try:
                if ready():
                    return
            except Exception:  # noqa: S110 (not ready yet, whatever the probe raised)
                pass
            time.sleep(0.1)
        raise StartupError(f"{child.name} was not ready after {timeout:.0f} s:\n{child.tail()}")

    def stop(self, name: str, timeout: float = 10) -> None:
        child = self.children.pop(name, None)
        if child is not None:
            _stop([child], timeout)

    def stop_all(self, timeout: float = 10) -> None:
        """Everything stopped within `timeout`: SIGTERM, infrastructure last, then SIGKILL."""
        deadline = time.monotonic() + timeout
        children = list(self.children.values())
        self.children.clear()
        # Most of the time for the first group; infrastructure stops at once when nothing uses it.
        _stop([child for child in children if not child.infrastructure], timeout * 0.7)
        _stop([child for child in children if child.infrastructure], max(1.0, deadline - time.monotonic()))

    def check_alive(self) -> None:
        for child in self.children.values():
            if not child.alive():
                raise StartupError(f"{child.name} died:\n{child.tail()}")

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


def _stop(children: list[Child], timeout: float) -> None:
    """SIGTERM each child's group, wait for them together, then SIGKILL every group: a leader that
    exited cleanly may have left something it forked behind."""
    for child in children:
        child.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    for child in children:
        child.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):  # bounded: a stop never hangs on one child
            child.process.wait(timeout=2)
        child._drain()
