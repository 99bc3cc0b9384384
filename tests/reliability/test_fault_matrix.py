"""Every upstream fault, end to end: poll tasks go over the real Redis to a real worker process,
which polls the sandbox (through a relay it can cut) and writes to the test database.

For each fault, on DataFast and ChargebackStop at once: the poll attempt records it, the source gets
the right health, a transient fault keeps the last good state (which then goes stale on schedule),
nobody is alerted about a disconnect, and once the fault clears the next poll succeeds, still with no
false alert, on a worker that is still alive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from integrations_app.models import (
    ChargebackStopKey,
    DataFastSite,
    Health,
    Integration,
    PollAttempt,
    ProviderState,
    Snapshot,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.tasks import poll_key, poll_site
from sandbox.server import SandboxServer
from tests import factories
from tests.factories import present
from tests.reliability.processes import CeleryProcess, Launcher, wait_for
from tests.reliability.relay import TcpRelay

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

DATAFAST_PATH = "/api/v1/admin/websites/"
CHARGEBACKSTOP_PATH = "/v1/integrations/"
# Low limits in the worker, so the slow faults take seconds, not minutes.
READ_TIMEOUT = 1
BODY_TIMEOUT = 1
REFUSED = "refused"  # not a sandbox rule: the relay in front of the sandbox stops listening


@dataclass(frozen=True)
class Fault:
    name: str
    datafast: dict[str, Any] | str
    chargebackstop: dict[str, Any] | str
    error_kind: str
    http_status: int | None
    health: str = Health.OK  # what the source's health is after the fault

    @property
    def transient(self) -> bool:
        return self.health == Health.OK


def both(rule: dict[str, Any] | str) -> dict[str, Any]:
    return {"datafast": rule, "chargebackstop": rule}


FAULTS = [
    Fault(
        "read timeout", **both({"kind": "latency", "seconds": READ_TIMEOUT + 2}), error_kind="timeout", http_status=None
    ),
    Fault("connection refused", **both(REFUSED), error_kind="connection", http_status=None),
    Fault("500", **both({"kind": "status", "status": 500}), error_kind="server_error", http_status=500),
    Fault("502", **both({"kind": "status", "status": 502}), error_kind="server_error", http_status=502),
    Fault(
        "503 with Retry-After",
        **both({"kind": "status", "status": 503, "retry_after": 1}),
        error_kind="server_error",
        http_status=503,
    ),
    Fault(
        "429 with Retry-After",
        **both({"kind": "status", "status": 429, "retry_after": 1}),
        error_kind="rate_limited",
        http_status=429,
    ),
    Fault("malformed JSON", **both({"kind": "malformed"}), error_kind="schema", http_status=200),
    Fault(
        "a documented field missing",
        datafast={"kind": "missing_field", "field": "data.0.stripe"},
        chargebackstop={"kind": "missing_field", "field": "count"},
        error_kind="schema",
        http_status=200,
    ),
    Fault(
        "401",
        **both({"kind": "status", "status": 401}),
        error_kind="credential",
        http_status=401,
        health=Health.CREDENTIAL_REJECTED,
    ),
    Fault(
        "403",
        **both({"kind": "status", "status": 403}),
        error_kind="credential",
        http_status=403,
        health=Health.CREDENTIAL_REJECTED,
    ),
    Fault(
        "404",
        **both({"kind": "status", "status": 404}),
        error_kind="not_found",
        http_status=404,
        health=Health.NOT_FOUND,
    ),
    Fault(
        "a body trickling for 30 s", **both({"kind": "trickle", "seconds": 30}), error_kind="timeout", http_status=200
    ),
]


@pytest.fixture(scope="module")
def worker(module_launcher: Launcher) -> CeleryProcess:
    return module_launcher.worker(
        "matrix", UPSTREAM_READ_TIMEOUT=str(READ_TIMEOUT), UPSTREAM_BODY_TIMEOUT=str(BODY_TIMEOUT)
    )


@pytest.fixture
def sources(
    worker: CeleryProcess, sandbox: SandboxServer, relay: TcpRelay
) -> Iterator[tuple[DataFastSite, ChargebackStopKey]]:
    """A website and a partner key, each polled once successfully (the last good state)."""
    site, key = factories.site(), factories.key()
    poll_through_worker(site, key, worker)
    yield site, key
    sandbox.state.faults.clear()


def poll_through_worker(site: DataFastSite, key: ChargebackStopKey, worker: CeleryProcess) -> list[PollAttempt]:
    """Send both poll tasks over Redis, as beat's dispatch does, and wait for both attempts."""
    before = PollAttempt.objects.count()
    dispatched_at = timezone.now().isoformat()
    poll_site.apply_async((site.pk, dispatched_at))
    poll_key.apply_async((key.pk, dispatched_at))

    def both_done() -> bool:
        if "raised unexpected" in worker.log():
            raise AssertionError(f"a poll task crashed\n{worker.tail()}")
        return PollAttempt.objects.count() >= before + 2

    wait_for(both_done, timeout=45, message="both polls", logs=worker.tail)
    return [
        present(PollAttempt.objects.filter(site=site).order_by("-started_at").first()),
        present(PollAttempt.objects.filter(key=key).order_by("-started_at").first()),
    ]


def known_state(site: DataFastSite, key: ChargebackStopKey) -> dict[str, Any]:
    """What the dashboard knows about both sources: it must survive a failed poll unchanged."""
    return {
        "providers": sorted(ProviderState.objects.filter(site=site).values_list("provider", "connected", "since")),
        "integrations": sorted(Integration.objects.values_list("integration_id", "status", "name", "since")),
        "snapshots": sorted(Snapshot.objects.values_list("id", "digest")),
        "site_success": DataFastSite.objects.values_list("last_success_at", "stale_after").get(pk=site.pk),
        "key_success": ChargebackStopKey.objects.values_list("last_success_at", "stale_after").get(pk=key.pk),
    }


def notified() -> list[tuple[str, str, str]]:
    return list(StatusChange.objects.filter(notify=True).order_by("at", "id").values_list("kind", "severity", "new"))


def inject(fault: Fault, sandbox: SandboxServer, relay: TcpRelay) -> None:
    for path, rule in ((DATAFAST_PATH, fault.datafast), (CHARGEBACKSTOP_PATH, fault.chargebackstop)):
        if isinstance(rule, str):  # REFUSED, the one rule that is not the sandbox's
            relay.close()
        else:
            sandbox.state.faults.add(path, **rule)


def clear(sandbox: SandboxServer, relay: TcpRelay) -> None:
    sandbox.state.faults.clear()
    relay.open()


def stale_on_schedule(source: DataFastSite | ChargebackStopKey, last_good: datetime) -> bool:
    """Stale exactly two intervals after the last good answer, whatever happened since."""
    due = last_good + 2 * source.interval
    return source.stale_after is not None and abs(source.stale_after - due) < timedelta(seconds=1)


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.name for fault in FAULTS])
def test_it_records_each_upstream_fault_and_alerts_only_on_a_verdict(
    fault: Fault,
    sources: tuple[DataFastSite, ChargebackStopKey],
    worker: CeleryProcess,
    sandbox: SandboxServer,
    relay: TcpRelay,
) -> None:
    site, key = sources
    good = known_state(site, key)
    inject(fault, sandbox, relay)

    attempts = poll_through_worker(site, key, worker)

    for attempt in attempts:
        assert (attempt.ok, attempt.error_kind, attempt.http_status) == (False, fault.error_kind, fault.http_status), (
            attempt.message
        )
    for source in (site, key):
        source.refresh_from_db()
        assert source.health == fault.health
        assert source.last_error_kind == fault.error_kind
    assert known_state(site, key) == good, "a failed poll changed what we know"
    assert stale_on_schedule(site, good["site_success"][0])
    assert stale_on_schedule(key, good["key_success"][0])
    if fault.transient:
        assert notified() == []
    else:  # a verdict on the credential or the resource: one health alert per source, no disconnect
        assert notified() == [(ChangeKind.SOURCE_HEALTH, Severity.PROBLEM, fault.health)] * 2

    clear(sandbox, relay)
    attempts = poll_through_worker(site, key, worker)

    assert [attempt.ok for attempt in attempts] == [True, True], [attempt.message for attempt in attempts]
    for source in (site, key):
        source.refresh_from_db()
        assert source.health == Health.OK
    if fault.transient:
        assert notified() == []
    else:
        assert notified()[2:] == [(ChangeKind.SOURCE_HEALTH, Severity.RECOVERY, Health.OK)] * 2
    assert not StatusChange.objects.filter(kind__in=[ChangeKind.PROVIDER, ChangeKind.INTEGRATION_STATUS]).exists()
    assert worker.alive(), worker.tail()
    assert "raised unexpected" not in worker.log(), worker.tail()
