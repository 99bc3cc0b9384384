"""The bench's private copy of the product: its own database, Redis port, sandbox, worker(s) and
beat, all real processes in a temporary directory, with the environment the product reads."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from cryptography.fernet import Fernet

from bench.processes import environment
from scripts.launcher import Launcher, beat_command, redis_command, sandbox_command, worker_command, worker_processes
from tests.ports import free_port
from tests.redis_server import redis_binary

ADMIN_ADDRESS = "bench-admin@example.com"


@dataclass
class Ports:
    redis: int = field(default_factory=free_port)
    sandbox: int = field(default_factory=free_port)
    smtp: int = field(default_factory=free_port)


class Stack:
    def __init__(self, workdir: Path, database_url: str, overrides: dict[str, object] | None = None) -> None:
        self.workdir = workdir
        self.ports = Ports()
        self.sandbox_url = f"http://127.0.0.1:{self.ports.sandbox}"
        self.redis_url = f"redis://127.0.0.1:{self.ports.redis}/0"
        self.env = environment(
            {
                "DJANGO_SETTINGS_MODULE": "bench.settings",
                "PAYSTATUS_SKIP_DOTENV": "true",
                "SECRET_KEY": secrets.token_urlsafe(50),
                "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
                "DATABASE_URL": database_url,
                "REDIS_URL": self.redis_url,
                "DATAFAST_BASE_URL": self.sandbox_url,
                "CHARGEBACKSTOP_BASE_URL": self.sandbox_url,
                "ADMINS": ADMIN_ADDRESS,
                "EMAIL_URL": f"smtp://127.0.0.1:{self.ports.smtp}",
                "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
                "BENCH_STATIC_ROOT": str(workdir / "static"),
                "BENCH_SETTINGS": json.dumps(overrides or {}),
            }
        )
        self.supervisor = Launcher(workdir, self.env)
        self.workers: list[str] = []
        self._beats = 0

    # --- infrastructure --------------------------------------------------------------------

    def start_redis(self) -> None:
        (self.workdir / "redis").mkdir(exist_ok=True)
        argv = redis_command(redis_binary(), self.ports.redis, self.workdir / "redis", persist=False)
        client = redis.Redis.from_url(self.redis_url, socket_connect_timeout=0.2)
        self.supervisor.start("redis", argv, ready=lambda: bool(client.ping()), infrastructure=True)

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def start_sandbox(self) -> None:
        argv = sandbox_command(self.ports.sandbox, scenario="empty", log_requests=False)
        self.supervisor.start(
            "sandbox",
            argv,
            ready=lambda: requests.get(f"{self.sandbox_url}/_sandbox/stats", timeout=1).ok,
            infrastructure=True,
        )

    # --- the poller --------------------------------------------------------------------------

    def start_workers(self, *, workers: int, threads: int, env: dict[str, str] | None = None) -> list[int]:
        """`workers` processes of `celery worker --pool threads --concurrency <threads>` on the upstream
        queue and one on the control queue, as `make run` starts them (the app module adds only the
        bench's dispatch-timing hook). Returns the pids of all of them: the dispatch is the poller's CPU too."""
        pids = []
        for name, count, queue in worker_processes(workers, threads):
            argv = worker_command(f"bench-{name}", threads=count, app="bench.celeryapp", queues=[queue])
            log = self.supervisor.log_path(name)
            offset = log.stat().st_size if log.exists() else 0

            def ready(log: Path = log, offset: int = offset) -> bool:
                return " ready." in log.read_text(errors="replace")[offset:]

            process = self.supervisor.start(
                name,
                argv,
                ready=ready,
                env=env,
                timeout=60,
            )
            self.workers.append(name)
            pids.append(process.pid)
        return pids

    def start_beat(self, *, tick: int, env: dict[str, str] | None = None) -> None:
        self._beats += 1
        schedule = self.workdir / f"beat-schedule-{self._beats}"
        argv = beat_command(schedule)
        log = self.supervisor.log_path("beat")
        offset = log.stat().st_size if log.exists() else 0
        self.supervisor.start(
            "beat",
            argv,
            ready=lambda: "beat: Starting" in log.read_text(errors="replace")[offset:],
            env={"POLL_TICK_SECONDS": str(tick), **(env or {})},
        )

    def stop_pollers(self) -> None:
        self.supervisor.stop("beat")
        for name in self.workers:
            self.supervisor.stop(name, timeout=60)
        self.workers = []

    def stop(self) -> None:
        self.supervisor.stop_all()
