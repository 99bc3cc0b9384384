"""The database locked or unreachable while a worker process polls: the poll's write fails as a
whole (its transaction rolls back), the task retries itself (autoretry on DatabaseError), and once
the database is back the poll is written whole, once: never an attempt without its source's state,
never a snapshot without its attempt, never a change recorded twice."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from integrations_app.models import (
    ChargebackStopKey,
    DataFastSite,
    Integration,
    PollAttempt,
    ProviderState,
    Snapshot,
    StatusChange,
)
from integrations_app.models.history import ChangeKind
from integrations_app.tasks import poll_key, poll_site
from sandbox.server import SandboxServer
from tests import demo, factories
from tests.reliability.processes import CeleryProcess, Launcher, database_url, wait_for
from tests.reliability.relay import TcpRelay

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

LOCK_WAIT_MS = 1000  # how long the worker waits for a lock before its statement fails
RETRIED = re.compile(r"tasks\.(poll_site|poll_key)\[[^\]]+\] retry: Retry in")


def worker_database_url(*, host: str | None = None, port: int | None = None) -> str:
    if connection.vendor == "sqlite":
        return database_url(timeout=LOCK_WAIT_MS // 1000)  # SQLite's busy timeout, in seconds
    return database_url(host=host, port=port, options=f"-c lock_timeout={LOCK_WAIT_MS}")


def postgres_connect() -> psycopg.Connection:
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname=db["NAME"],
    )


@contextmanager
def database_locked() -> Iterator[None]:
    """Another connection holds a lock the poll's write needs: the whole SQLite file (readers
    still read), or on PostgreSQL two tables a poll writes after its attempt (reads go on), so
    the poll's transaction inserts its attempt, then fails when it records the change it saw."""
    if connection.vendor == "sqlite":
        holder = sqlite3.connect(connection.settings_dict["NAME"], timeout=5, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with postgres_connect() as postgres_holder:
        tables = f"{StatusChange._meta.db_table}, {Integration._meta.db_table}"
        postgres_holder.execute(f"LOCK TABLE {tables} IN EXCLUSIVE MODE")
        yield
        postgres_holder.rollback()


def send_polls(site: DataFastSite, key: ChargebackStopKey) -> None:
    dispatched_at = timezone.now().isoformat()
    poll_site.apply_async((site.pk, dispatched_at))
    poll_key.apply_async((key.pk, dispatched_at))


def wait_for_polls(count: int, worker: CeleryProcess) -> None:
    wait_for(
        lambda: PollAttempt.objects.filter(ok=True).count() >= count, timeout=45, message="polls", logs=worker.tail
    )


def assert_written_whole(site: DataFastSite, key: ChargebackStopKey) -> None:
    for source, link in ((site, {"site": site}), (key, {"key": key})):
        source.refresh_from_db()
        attempts = list(PollAttempt.objects.filter(**link).order_by("started_at"))
        assert source.last_polled_at == attempts[-1].started_at, "an attempt without its source's state"
        polled_ok = [attempt.started_at for attempt in attempts if attempt.ok]
        assert source.last_success_at == polled_ok[-1]
        snapshots = list(Snapshot.objects.filter(**link).order_by("taken_at"))
        assert all(snapshot.taken_at in polled_ok for snapshot in snapshots), "a snapshot without its attempt"
        assert source.snapshot_digest == snapshots[-1].digest, "a snapshot without its source's state"


def test_it_retries_a_poll_that_finds_the_database_locked_and_then_writes_it_once(
    launcher: Launcher, sandbox: SandboxServer
) -> None:
    site, key = factories.site(), factories.key()
    worker = launcher.worker(DATABASE_URL=worker_database_url())
    send_polls(site, key)
    wait_for_polls(2, worker)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)

    with database_locked():
        send_polls(site, key)
        wait_for(lambda: len(set(RETRIED.findall(worker.log()))) == 2, timeout=30, message="both polls to fail")
        assert PollAttempt.objects.count() == 2, "a poll wrote part of its result"

    wait_for_polls(4, worker)
    assert PollAttempt.objects.count() == 4
    assert_written_whole(site, key)
    assert not ProviderState.objects.get(site=site, provider="stripe").connected
    assert StatusChange.objects.filter(kind=ChangeKind.PROVIDER, notify=True).count() == 1
    assert worker.alive(), worker.tail()


def test_it_retries_a_poll_that_loses_the_database_mid_poll_and_then_writes_it_once(
    launcher: Launcher, sandbox: SandboxServer
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("a SQLite file cannot become unreachable; PostgreSQL runs this")
    db = connection.settings_dict
    relay = TcpRelay(db["HOST"] or "127.0.0.1", int(db["PORT"] or 5432))
    relay.open()
    try:
        site, key = factories.site(), factories.key()
        worker = launcher.worker(DATABASE_URL=worker_database_url(host="127.0.0.1", port=relay.port))
        send_polls(site, key)
        wait_for_polls(2, worker)
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
        sandbox.state.latency = 1.5

        send_polls(site, key)
        wait_for(lambda: sandbox.state.stats()["datafast"]["in_flight"] == 1, timeout=20, message="a poll in flight")
        relay.close()  # the worker's database connections drop; new ones are refused
        wait_for(lambda: len(set(RETRIED.findall(worker.log()))) == 2, timeout=30, message="both polls to fail")
        assert PollAttempt.objects.count() == 2, "a poll wrote part of its result"
        sandbox.state.latency = 0
        relay.open()

        wait_for_polls(4, worker)
    finally:
        relay.close()
    assert PollAttempt.objects.count() == 4
    assert_written_whole(site, key)
    assert not ProviderState.objects.get(site=site, provider="stripe").connected
    assert StatusChange.objects.filter(kind=ChangeKind.PROVIDER, notify=True).count() == 1
    assert worker.alive(), worker.tail()
