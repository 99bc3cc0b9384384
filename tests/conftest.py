from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.core.cache import cache
from pytest_django import Settings

from sandbox.server import SandboxServer
from tests.redis_server import RedisServer
from tests.smtp_sink import SmtpSink


@pytest.fixture(autouse=True)
def _fresh_local_cache() -> None:
    """The per-process cache (throttle counts, the watcher's banner) starts empty in every test."""
    cache.clear()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(settings.TEST_REDIS_PORT, tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_clean(redis_server: RedisServer) -> RedisServer:
    redis_server.flush()
    return redis_server


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    server = SandboxServer(host="127.0.0.1", port=0, scenario="demo")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer, settings: Settings) -> SandboxServer:
    """The sandbox with fresh demo data and no faults; both upstream URLs point at it."""
    sandbox_server.state.reset("demo")
    settings.DATAFAST_BASE_URL = sandbox_server.url
    settings.CHARGEBACKSTOP_BASE_URL = sandbox_server.url
    return sandbox_server


@pytest.fixture
def smtp_sink(settings: Settings) -> Iterator[SmtpSink]:
    """A real SMTP server; Django's email goes to it for the test."""
    sink = SmtpSink()
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    yield sink
    sink.stop()
