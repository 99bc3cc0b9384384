"""`/healthz` and the page banner report degraded when polling or alerting has stalled."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, DataFastSite, StatusChange
from tests import demo, factories

pytestmark = pytest.mark.django_db


def healthz(client) -> tuple[int, dict[str, Any]]:
    response = client.get(reverse("healthz"))
    return response.status_code, json.loads(response.content)


@pytest.fixture
def polled_site(sandbox, settings):
    settings.POLL_INTERVAL_SECONDS = 300
    site = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books")  # nothing wrong with it
    poll_site(site.pk)
    return site


def test_a_working_watcher_is_healthy(client, polled_site, redis_clean):
    status, body = healthz(client)
    assert (status, body["status"], body["problems"]) == (200, "ok", [])
    assert body["enabled_sources"] == 1 and body["newest_poll_age_seconds"] < 60
    assert body["sources_with_problem"] == {"websites": 0, "keys": 0, "organisations": 0}


def test_healthz_counts_sources_with_a_problem_from_the_status_function(client, polled_site, redis_clean, sandbox):
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    poll_site(polled_site.pk)
    status, body = healthz(client)
    assert status == 200, "a disconnect alerts on its own; it does not make the watcher degraded"
    assert body["sources_with_problem"]["websites"] == 1


def test_no_finished_poll_for_two_intervals_is_degraded_on_healthz_and_in_the_banner(client, polled_site, redis_clean):
    client.force_login(factories.viewer())
    with time_machine.travel(timezone.now() + timedelta(seconds=601), tick=False):
        status, body = healthz(client)
        html = client.get(reverse("overview")).content.decode()
    assert (status, body["status"]) == (503, "degraded")
    assert any("no poll has finished since 10 min ago" in problem for problem in body["problems"])
    assert "Monitoring is degraded" in html and "no poll has finished since 10 min ago" in html


def test_sources_overdue_past_their_lease_are_degraded(client, polled_site, redis_clean, settings):
    DataFastSite.objects.update(next_poll_at=timezone.now() - timedelta(seconds=settings.POLL_LEASE_SECONDS + 5))
    status, body = healthz(client)
    assert status == 503 and body["overdue_sources"] == 1
    assert any("overdue past their lease" in problem for problem in body["problems"])


def test_every_source_failing_for_two_intervals_is_degraded(client, polled_site, redis_clean):
    DataFastSite.objects.update(last_success_at=timezone.now() - timedelta(seconds=700), last_polled_at=timezone.now())
    status, body = healthz(client)
    assert status == 503
    assert any("no source has answered successfully" in problem for problem in body["problems"])


def test_a_source_never_accepted_is_not_a_stall(client, sandbox, redis_clean):
    site = factories.site()
    DataFastSite.objects.filter(pk=site.pk).update(last_polled_at=timezone.now(), last_success_at=None)
    status, body = healthz(client)
    assert (status, body["problems"]) == (200, [])


def test_changes_waiting_to_be_sent_are_degraded(client, polled_site, redis_clean, sandbox):
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    poll_site(polled_site.pk)
    assert healthz(client)[0] == 200, "a fresh change is within the grouping window"
    StatusChange.objects.update(at=timezone.now() - timedelta(minutes=6))
    DataFastSite.objects.update(last_polled_at=timezone.now())
    status, body = healthz(client)
    assert status == 503 and body["unsent_changes"] == 1
    assert any("wait to be sent since 6 min ago" in problem for problem in body["problems"])


@pytest.mark.usefixtures("redis_clean", "mailoutbox")
def test_a_failed_alert_of_the_last_day_is_degraded(client, polled_site, sandbox, settings):
    settings.ALERT_RECIPIENTS = []
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    poll_site(polled_site.pk)
    send_pending_alerts(wait=False)
    assert Alert.objects.get().status == Alert.Status.FAILED
    status, body = healthz(client)
    assert status == 503 and body["stuck_alerts"] == 1
    Alert.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert healthz(client)[1]["stuck_alerts"] == 0
