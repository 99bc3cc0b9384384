"""Redis stopped under a running worker and beat: the dashboard still serves every page from the
database and says the worker/broker is unreachable; when Redis comes back on the same port,
polling resumes with the same worker and beat processes, restarted by nobody."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from integrations_app.models import ChargebackStopKey, DataFastSite, Organisation, PollAttempt
from integrations_app.polling import locks
from integrations_app.views import context as broker_context
from tests import factories
from tests.factories import present
from tests.ports import free_port
from tests.redis_server import RedisServer
from tests.reliability.processes import Launcher, wait_for
from tests.reliability.relay import TcpRelay

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

NOTICE = "Worker/broker unreachable."
INTERVAL_SECONDS = 2


def forget_redis_clients() -> None:
    """Redis clients and the page's broker check remember their URL and answer: start afresh."""
    locks.redis_client.cache_clear()
    broker_context._quick_client.cache_clear()
    broker_context._last.update(at=-1000.0, ok=1.0)


@pytest.fixture
def own_redis(tmp_path: Path, settings: Any) -> Iterator[RedisServer]:
    """A Redis for this test alone (the shared one stays up), which this process also uses."""
    server = RedisServer(free_port(), tmp_path / "redis")
    server.start()
    settings.REDIS_URL = settings.CELERY_BROKER_URL = server.url
    forget_redis_clients()
    yield server
    server.stop()
    forget_redis_clients()


@pytest.fixture
def own_launcher(own_redis: RedisServer, relay: TcpRelay, tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path, own_redis.port, relay.url)
    yield launcher
    launcher.stop_all()


def polled_since(source: DataFastSite | ChargebackStopKey, moment: object) -> bool:
    link = {"site": source} if isinstance(source, DataFastSite) else {"key": source}
    return PollAttempt.objects.filter(**link, ok=True, started_at__gt=moment).exists()


def test_it_serves_pages_without_redis_and_resumes_polling_when_redis_returns(
    own_launcher: Launcher, own_redis: RedisServer, sandbox: object, client: Client
) -> None:
    site = factories.site(poll_interval_seconds=INTERVAL_SECONDS)
    key = factories.key(poll_interval_seconds=INTERVAL_SECONDS)
    processes = [own_launcher.beat(wait=False), own_launcher.worker(wait=False)]
    own_launcher.wait_ready(*processes)
    started = timezone.now()
    wait_for(
        lambda: polled_since(site, started) and polled_since(key, started),
        timeout=30,
        message="polling",
        logs=own_launcher.logs,
    )
    client.force_login(factories.viewer())
    pages = [
        reverse("overview"),
        reverse("site-detail", args=[site.pk]),
        reverse("organisation-detail", args=[present(Organisation.objects.first()).pk]),
        reverse("alerts"),
    ]

    own_redis.stop()
    forget_redis_clients()

    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert NOTICE in response.content.decode(), url
    assert "Acme Store" in client.get(reverse("overview")).content.decode()
    health = client.get(reverse("healthz"))
    assert health.status_code == 503
    assert json.loads(health.content)["broker"] == "unreachable"
    assert json.loads(health.content)["database"] == "ok"
    # Both processes notice the broker is gone (beat fails to send a tick, the worker loses its
    # connection) and neither gives up.
    beat, worker = processes
    wait_for(lambda: "Couldn't apply scheduled task" in beat.log(), timeout=20, message="beat to miss a tick")
    wait_for(lambda: "Connection to broker lost" in worker.log(), timeout=20, message="the worker to notice")
    assert all(process.alive() for process in processes), own_launcher.logs()

    own_redis.start()  # same port, empty: no queue, no binding, no lock survives
    back = timezone.now()
    wait_for(
        lambda: polled_since(site, back) and polled_since(key, back),
        timeout=45,
        message="polling to resume",
        logs=own_launcher.logs,
    )
    assert all(process.alive() for process in processes), own_launcher.logs()
    assert [process.pid for process in own_launcher.started] == [process.pid for process in processes]
    forget_redis_clients()
    assert NOTICE not in client.get(reverse("overview")).content.decode()
    assert client.get(reverse("healthz")).status_code == 200
