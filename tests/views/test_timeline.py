"""Timelines: windows, a minimum width for short incidents, axis dates."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import ChargebackStopKey, DataFastSite, Integration, Organisation, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.views import timeline
from tests import demo, factories

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def change(at: datetime, old: str, new: str, severity: str) -> StatusChange:
    return StatusChange(at=at, old=old, new=new, severity=severity)


def test_an_incident_of_three_minutes_stays_visible_in_30_days():
    down = NOW - timedelta(days=10)
    line = timeline.build(
        "stripe",
        "Stripe",
        current="up",
        watched_since=NOW - timedelta(days=60),
        changes=[
            change(down, "connected", "not connected", Severity.PROBLEM),
            change(down + timedelta(minutes=3), "not connected", "connected", Severity.RECOVERY),
        ],
        now=NOW,
    )
    (incident,) = [segment for segment in line.segments if segment.state == "down"]
    assert incident.width == timeline.MIN_WIDTH
    assert line.drawn[-1] is incident, "drawn last, over the calm stretch it was widened into"
    assert "disconnected 3 min" in line.summary


def test_the_window_decides_what_is_drawn_and_the_axis_reads_without_hovering():
    kwargs: dict[str, Any] = {"current": "up", "watched_since": NOW - timedelta(days=60), "now": NOW}
    old = change(NOW - timedelta(days=3), "connected", "not connected", Severity.PROBLEM)
    back = change(NOW - timedelta(days=2), "not connected", "connected", Severity.RECOVERY)
    week = timeline.build("stripe", "Stripe", changes=[old, back], window="7d", **kwargs)
    assert [segment.state for segment in week.segments] == ["up", "down", "up"]
    day = timeline.build("stripe", "Stripe", changes=[], window="24h", **kwargs)
    assert [segment.state for segment in day.segments] == ["up"]
    assert day.summary.startswith("Stripe, last 24 hours")
    assert timeline.axis("24h", NOW) == ["12:00", "18:00", "00:00", "06:00", "now"]
    assert timeline.axis("30d", NOW)[0] == "31 Oct"
    assert timeline.window_of("1y") == "30d"


@pytest.mark.django_db
def test_the_demo_seeds_30_days_of_history_that_alerts_nobody_and_the_first_poll_keeps(sandbox, client):
    call_command("load_demo", stdout=io.StringIO())
    assert StatusChange.objects.filter(at__lt=timezone.now() - timedelta(days=2)).exists()
    assert not StatusChange.objects.filter(notify=True).exists()
    assert Integration.objects.filter(first_seen_at__lt=timezone.now() - timedelta(days=29)).count() == 10
    call_command("load_demo", stdout=io.StringIO())  # idempotent: history is written once
    assert StatusChange.objects.filter(at__gte=timezone.now() - timedelta(minutes=1)).count() == 0
    for pk in ChargebackStopKey.objects.values_list("pk", flat=True):
        poll_key(pk)
    for pk in DataFastSite.objects.values_list("pk", flat=True):
        poll_site(pk)
    # The first polls agree with the seeded integrations: no change of theirs, nothing to alert.
    assert not StatusChange.objects.filter(
        kind=ChangeKind.INTEGRATION_STATUS, at__gte=timezone.now() - timedelta(minutes=1)
    ).exists()
    client.force_login(factories.viewer())
    organisation = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    page = client.get(organisation.get_absolute_url()).content.decode()
    assert page.count('class="timeline"') == 4
    assert 'class="down"' in page or 'class="off"' in page


def test_the_state_now_stays_visible_however_new():
    line = timeline.build(
        "int_1", "Checkout", current="off", watched_since=NOW - timedelta(seconds=5), changes=[], now=NOW
    )
    assert [segment.state for segment in line.segments] == ["unknown", "off"]
    assert line.segments[-1].width == timeline.MIN_WIDTH
    assert line.drawn[-1] is line.segments[-1]
