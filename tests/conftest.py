from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache, caches
from django.db import connection
from django.test import Client
from pytest_django import Settings

from integrations_app.polling.locks import redis_client
from integrations_app.upstream import budget
from integrations_app.views import context as broker_context
from sandbox.server import SandboxServer
from tests import factories
from tests.chat_sink import ChatSink
from tests.ports import free_port
from tests.redis_server import RedisServer
from tests.smtp_sink import SmtpSink


# The named people of the tests, each with a client of their own (a test may use several):
# the admin (a superuser), staff (may change things), a viewer (may read), and a stranger (a
# deactivated account, who may do nothing).
def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client() -> Client:
    return _logged_in(User.objects.create_superuser("root", password="root-password-1"))


@pytest.fixture
def staff_client() -> Client:
    return _logged_in(factories.staff())


@pytest.fixture
def viewer_client() -> Client:
    return _logged_in(factories.viewer())


@pytest.fixture
def stranger_client() -> Client:
    return _logged_in(User.objects.create_user("stranger", password="stranger-password-1", is_active=False))


@pytest.fixture(autouse=True)
def _fresh_local_cache() -> None:
    """The per-process cache (throttle counts, the watcher's banner) starts empty in every test,
    and so do the request budgets (a 429 of one test must not hold back the next), and the
    Configuration page's kept uploads."""
    cache.clear()
    caches["config_uploads"].clear()
    budget.forget_all()


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


@pytest.fixture
def chat_sink() -> Iterator[ChatSink]:
    """A real HTTP server taking Apprise's json:// and mmost:// posts (tests/chat_sink.py)."""
    sink = ChatSink().start()
    yield sink
    sink.stop()


@pytest.fixture
def other_chat_sink() -> Iterator[ChatSink]:
    sink = ChatSink().start()
    yield sink
    sink.stop()


def forget_broker_check() -> None:
    # broker_reachable() remembers its answer for a few seconds, and its client (and the locks' one)
    # the URL it was made with.
    broker_context._quick_client.cache_clear()
    broker_context._last.update(at=-1000.0, ok=1.0)
    redis_client.cache_clear()


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


@pytest.fixture
def broker_down(settings: Settings) -> Iterator[str]:
    """Redis (the broker, the locks) refuses connections, for this test's settings."""
    url = closed_port_url()
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    forget_broker_check()
    yield url
    forget_broker_check()


@pytest.fixture
def publishing_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Celery's broker refuses connections while REDIS_URL (the locks, the pages' check) still
    answers: a publish fails after everything said Redis was up."""
    from dashboard.celery import app

    monkeypatch.setattr(app.conf, "broker_url", closed_port_url())
    monkeypatch.setattr(app, "_pool", None)  # connections are pooled per URL: make new ones
    monkeypatch.setattr(app.amqp, "_producer_pool", None)


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_connected_to_the_test_database(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """The poll writer thread keeps its connection for the life of the process (as in a worker):
    on PostgreSQL that session would keep the test database from being dropped at the end."""
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
