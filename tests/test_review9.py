"""Review of issue 9 ("never wrong, never silent"): each test here failed on the merged change."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError
from django.utils import timezone

from integrations_app import problems, tasks
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.models import DataFastSite
from integrations_app.models.problem import RANK, Problem
from integrations_app.upstream import http
from integrations_app.watcher import watcher_report
from tests import demo, factories

pytestmark = pytest.mark.django_db


# --- §5 the watcher ---------------------------------------------------------------------------


def test_enabled_sources_that_were_never_polled_are_a_stall(settings):
    """Beat running, no worker (or a worker that never got one poll done): beat re-leases every
    source each lease, so none is ever "overdue", and no poll ever finished. An hour later the
    watcher must say so."""
    settings.POLL_INTERVAL_SECONDS = 300
    site = factories.site()
    an_hour_ago = timezone.now() - timedelta(hours=1)
    DataFastSite.objects.filter(pk=site.pk).update(
        created_at=an_hour_ago,
        next_poll_at=timezone.now() + timedelta(seconds=60),  # just re-leased by beat
    )
    report = watcher_report()
    assert not report.healthy, report.facts


def test_a_just_added_source_not_yet_polled_is_not_a_stall(settings):
    settings.POLL_INTERVAL_SECONDS = 300
    factories.site()
    assert watcher_report().healthy


# --- §3 the tick -------------------------------------------------------------------------------


def test_a_failing_refresh_of_problems_does_not_lose_the_tick_s_claimed_polls(monkeypatch, redis_clean):
    """`dispatch_due_polls` leases the due sources, then re-derives problems, then enqueues. If the
    re-derivation fails (a locked database), the leased sources must still be enqueued, not left
    to wait a whole lease."""
    site = factories.site()
    queued: list[Any] = []
    monkeypatch.setattr(tasks, "enqueue", queued.extend)

    def broken(*args: Any, **kwargs: Any) -> int:
        raise OperationalError("database is locked")

    monkeypatch.setattr(tasks, "refresh_due", broken)
    with contextlib.suppress(OperationalError):  # the task may be retried; what matters is what was enqueued
        tasks.dispatch_due_polls.run()
    assert [pk for batch in queued for pk in batch.pks] == [site.pk]


# --- §1 the stored problem state --------------------------------------------------------------


def test_refresh_due_does_not_overwrite_a_poll_that_saved_meanwhile(monkeypatch):
    """The tick reads the due rows, derives, then writes `problem_rank`. A poll that saved the row
    in between (it answered: OK, not stale) must not be overwritten with the stale verdict derived
    from the facts read before, which would also clear `problem_recheck_at` and so stay wrong until
    the next save."""
    site = factories.site()
    now = timezone.now()
    DataFastSite.objects.filter(pk=site.pk).update(
        health="ok",
        last_success_at=now - timedelta(hours=1),
        stale_after=now - timedelta(minutes=1),
        problem_rank=RANK[Problem.OK],
        problem_recheck_at=now - timedelta(minutes=1),
    )
    original = DataFastSite.derive_problem

    done = False

    def derive_while_a_poll_saves(self: DataFastSite, when: Any = None) -> bool:
        nonlocal done
        if when is not None and not done:  # the tick's derivation
            done = True
            fresh = DataFastSite.objects.get(pk=self.pk)  # the poll, in another worker, answers and saves
            fresh.last_success_at = timezone.now()
            fresh.stale_after = timezone.now() + timedelta(minutes=10)
            fresh.save()
        return original(self, when)

    monkeypatch.setattr(DataFastSite, "derive_problem", derive_while_a_poll_saves)
    problems.refresh_due(now)
    monkeypatch.setattr(DataFastSite, "derive_problem", original)
    row = DataFastSite.objects.get(pk=site.pk)
    assert problems.problem_of(row) == Problem.OK, "the poll's fresh answer was overwritten with 'stale'"
    assert row.problem_recheck_at is not None


# --- §2/§4 a listing whose count contradicts itself ---------------------------------------------


def _item(number: int) -> dict[str, Any]:
    return {
        "id": f"int_{number}",
        "organisation_id": "org_1",
        "name": f"Integration {number}",
        "type": "CUSTOM_ORDERS",
        "status": "ENABLED",
        "merchant_ids": [f"m_{number}"],
    }


def test_a_listing_whose_count_shrinks_below_what_was_received_is_not_complete(monkeypatch):
    """Page 1 says 250 integrations; page 2 comes back empty saying 0 (a glitch). 100 received of
    250 announced is not a complete listing: it must not be allowed to declare 150 integrations gone."""
    pages = [
        {"items": [_item(n) for n in range(100)], "count": 250},
        {"items": [], "count": 0},
    ]

    def fake(method: str, url: str, **kwargs: Any) -> tuple[int, Any, int]:
        return 200, pages.pop(0), 1000

    monkeypatch.setattr(http, "request_sized", fake)
    listing = ChargebackStopClient(demo.PARTNER_KEY).list_integrations()
    assert len(listing.integrations) == 100
    assert not listing.complete, "an inconsistent listing was taken as complete"


# --- §1 writers that change a fact without re-deriving: the admin ------------------------------


@pytest.fixture
def lost_integration():
    from integrations_app.models import Integration, KeyOrganisation, Organisation

    key = factories.key()
    organisation = Organisation.objects.create(organisation_id="org_review9")
    KeyOrganisation.objects.create(key=key, organisation=organisation)
    integration = Integration.objects.create(
        integration_id="int_review9",
        organisation=organisation,
        seen_by=key,
        name="Lost",
        type="CUSTOM_ORDERS",
        status="DISABLED",
        merchant_ids=["m_1"],
        alert_open=True,
    )
    key.enabled = False  # paused: no poll will come to put things right
    key.save()
    organisation.refresh_from_db()
    assert problems.problem_of(organisation) == Problem.INTEGRATION_LOST
    assert problems.problem_of(key) == Problem.INTEGRATION_LOST
    return key, organisation, integration


def _admin_client(client):
    from django.contrib.auth.models import User

    client.force_login(User.objects.create_superuser("root", password="root-password-1"))
    return client


def test_deleting_a_lost_integration_in_the_admin_re_derives_its_key_and_organisation(client, lost_integration):
    from django.urls import reverse

    key, organisation, integration = lost_integration
    url = reverse("admin:integrations_app_integration_delete", args=[integration.pk])
    assert _admin_client(client).post(url, {"post": "yes"}).status_code == 302
    organisation.refresh_from_db()
    key.refresh_from_db()
    assert problems.problem_of(organisation) != Problem.INTEGRATION_LOST
    assert problems.problem_of(key) != Problem.INTEGRATION_LOST


def test_closing_a_lost_integration_in_the_admin_re_derives_its_key_and_organisation(client, lost_integration):
    from django.forms.models import model_to_dict
    from django.urls import reverse

    key, organisation, integration = lost_integration
    data = {k: v for k, v in model_to_dict(integration).items() if v is not None}
    data.update(
        alert_open="",
        merchant_ids='["m_1"]',
        since_0="2026-01-01",
        since_1="00:00:00",
        first_seen_at_0="2026-01-01",
        first_seen_at_1="00:00:00",
        last_seen_at_0="2026-01-01",
        last_seen_at_1="00:00:00",
    )
    data.pop("since", None), data.pop("first_seen_at", None), data.pop("last_seen_at", None)
    url = reverse("admin:integrations_app_integration_change", args=[integration.pk])
    response = _admin_client(client).post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    integration.refresh_from_db()
    assert integration.alert_open is False
    organisation.refresh_from_db()
    key.refresh_from_db()
    assert problems.problem_of(organisation) != Problem.INTEGRATION_LOST
    assert problems.problem_of(key) != Problem.INTEGRATION_LOST


# --- §5 a false degraded state: one failed send that is being retried ---------------------------


def test_an_alert_whose_first_send_failed_and_is_retried_soon_is_not_stuck(settings):
    """An SMTP blip fails one attempt; the alert is retried in 30 s. That is not "alerts stuck
    unsent": /healthz must not answer 503 (and page someone) for it. Given up, or unsent past the
    grace, it is."""
    from integrations_app.alerts.delivery import MAX_ATTEMPTS
    from integrations_app.models import Alert

    settings.POLL_INTERVAL_SECONDS = 300
    now = timezone.now()
    alert = Alert.objects.create(
        created_at=now,
        status=Alert.Status.FAILED,
        attempts=1,
        next_attempt_at=now + timedelta(seconds=30),
        recipients=["ops@example.com"],
        error="SMTPServerDisconnected: Connection unexpectedly closed",
    )
    assert watcher_report().facts["stuck_alerts"] == 0
    Alert.objects.filter(pk=alert.pk).update(attempts=MAX_ATTEMPTS)
    assert watcher_report().facts["stuck_alerts"] == 1, "an alert given up on is stuck"
    Alert.objects.filter(pk=alert.pk).update(attempts=2, created_at=now - timedelta(minutes=16))
    assert watcher_report().facts["stuck_alerts"] == 1, "an alert still unsent after the grace is stuck"
