"""Fixtures for the reliability tests: worker and beat subprocesses, and a relay to the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from tests.redis_server import RedisServer
from tests.reliability.processes import Launcher
from tests.reliability.relay import TcpRelay


@pytest.fixture(scope="module")
def upstream_relay(sandbox_server: SandboxServer) -> Iterator[TcpRelay]:
    """Workers reach the sandbox through this relay, so a test can make the APIs refuse connections."""
    relay = TcpRelay("127.0.0.1", sandbox_server.port)
    relay.open()
    yield relay
    relay.close()


@pytest.fixture
def relay(upstream_relay: TcpRelay) -> Iterator[TcpRelay]:
    """The module's relay, open at the start of the test and opened again after it."""
    upstream_relay.open()
    yield upstream_relay
    upstream_relay.open()


@pytest.fixture(scope="module")
def module_launcher(
    django_db_setup: None,
    redis_server: RedisServer,
    upstream_relay: TcpRelay,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Launcher]:
    """Processes shared by the tests of one module (the test database exists before they start)."""
    redis_server.flush()  # no task left over from other modules; nothing flushes it while ours run
    launcher = Launcher(tmp_path_factory.mktemp("celery"), redis_server.port, upstream_relay.url)
    yield launcher
    launcher.stop_all()


@pytest.fixture
def launcher(
    django_db_setup: None,
    redis_server: RedisServer,
    upstream_relay: TcpRelay,
    tmp_path: Path,
) -> Iterator[Launcher]:
    """Processes for one test, killed at its end."""
    redis_server.flush()
    launcher = Launcher(tmp_path, redis_server.port, upstream_relay.url)
    yield launcher
    launcher.stop_all()


@pytest.fixture(params=["aiohttp", "requests"])
def poll_client(request: pytest.FixtureRequest) -> dict[str, str]:
    """The worker environment for each client of the one HTTP module on the poll path: the poll
    loop's aiohttp (the default) or `requests` on the task's thread (POLL_ASYNC off)."""
    return {"POLL_ASYNC": "on" if request.param == "aiohttp" else "off"}
