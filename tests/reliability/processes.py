"""Real Celery worker and beat processes (`celery -A dashboard worker|beat`) for the reliability tests.

Each runs with an environment that points it at the test database, the test Redis and the sandbox,
logs to a file the tests can read, and is killed at teardown whatever happened. They are started
as `make run` and the bench start them, by the stack's one launcher (scripts/launcher.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import connection

from scripts import launcher as stack

# Short enough for tests, long enough for a slow machine.
TICK_SECONDS = 1
LEASE_SECONDS = 4


def wait_for(condition: Callable[[], Any], *, timeout: float, message: str, logs: Callable[[], str] = str) -> Any:
    """Poll `condition` until it returns something truthy (which is returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}\n{logs()}")
        time.sleep(0.05)


def database_url(*, host: str | None = None, port: int | None = None, **options: str | int) -> str:
    """A DATABASE_URL for the database this test session uses (the test database, not the real one)."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        query = f"?{urlencode(options)}" if options else ""
        return f"sqlite:///{db['NAME']}{query}"
    # Connection options from the session's own URL (sslmode, say) go along; `options` win.
    passed = {name: value for name, value in db["OPTIONS"].items() if isinstance(value, str | int)}
    query = f"?{urlencode(passed | options)}" if passed or options else ""
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db["PASSWORD"] else ""
    where = f"{host or db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}"
    return f"postgres://{user}{password}@{where}/{quote(db['NAME'], safe='')}{query}"


@dataclass
class CeleryProcess:
    name: str
    child: stack.Child
    ready: str  # the log line that says it has started

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.child.process

    @property
    def pid(self) -> int:
        return self.child.pid

    def alive(self) -> bool:
        return self.child.alive()

    def log(self) -> str:
        return self.child.log()

    def tail(self, lines: int = 40) -> str:
        return f"--- {self.name} (pid {self.pid}, {'alive' if self.alive() else 'dead'}) ---\n" + "\n".join(
            self.log().splitlines()[-lines:]
        )

    def kill(self) -> None:
        """SIGKILL: no shutdown, no acknowledgements, nothing cleaned up, as when a machine dies."""
        self.child.kill()


@dataclass
class Launcher:
    """Starts worker and beat processes; `stop_all()` kills every one of them."""

    workdir: Path
    redis_port: int
    upstream_url: str
    environment: dict[str, str] = field(default_factory=dict)
    started: list[CeleryProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.launcher = stack.Launcher(self.workdir, {}, cwd=Path(settings.BASE_DIR))

    def env(self, **overrides: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.settings",
                "PAYSTATUS_SKIP_DOTENV": "true",
                "TEST_REDIS_PORT": str(self.redis_port),  # tests.settings builds REDIS_URL from it
                "DATABASE_URL": database_url(),
                "DATAFAST_BASE_URL": self.upstream_url,
                "CHARGEBACKSTOP_BASE_URL": self.upstream_url,
                "EMAIL_URL": "consolemail://",
                "POLL_TICK_SECONDS": str(TICK_SECONDS),
                "POLL_LEASE_SECONDS": str(LEASE_SECONDS),
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.environment)
        env.update(overrides)
        return env

    def worker(
        self, name: str = "w1", *, concurrency: int = 4, wait: bool = True, queues: Sequence[str] = (), **env: str
    ) -> CeleryProcess:
        """A worker with a thread pool, as `make run` starts it (of every queue unless told); returned
        once it consumes tasks."""
        command = stack.worker_command(name, threads=concurrency, heartbeat=False, queues=queues)
        worker = self._start(name, command, env, ready="ready.")
        if wait:
            self.wait_ready(worker)
        return worker

    def beat(self, *, wait: bool = True, **env: str) -> CeleryProcess:
        schedule = self.workdir / f"beat-schedule-{len(self.started)}"
        beat = self._start("beat", stack.beat_command(schedule, max_interval=1), env, ready="Starting...")
        if wait:
            self.wait_ready(beat)
        return beat

    def wait_ready(self, *processes: CeleryProcess) -> None:
        for process in processes:

            def started(process: CeleryProcess = process) -> bool:
                return process.ready in process.log() or not process.alive()

            wait_for(
                started,
                timeout=60,
                message=f"{process.name} to start",
            )
            assert process.alive(), process.tail()

    def _start(self, name: str, command: list[str], env: dict[str, str], *, ready: str) -> CeleryProcess:
        # One log file per start: a test that restarts a worker reads the new one's lines only.
        child = self.launcher.start(f"{name}-{len(self.started)}", command, env=self.env(**env))
        started = CeleryProcess(name, child, ready)
        self.started.append(started)
        return started

    def logs(self) -> str:
        return "\n".join(process.tail() for process in self.started)

    def stop_all(self) -> None:
        for process in self.started:
            process.kill()
