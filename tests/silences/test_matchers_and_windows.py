"""Matchers of silences, and the occurrences of maintenance windows across daylight-saving changes."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.alerts.policy import follow_up_ended
from integrations_app.datafast.poller import poll_site
from integrations_app.models import MaintenanceWindow, Silence, StatusChange
from integrations_app.models.history import ChangeKind
from integrations_app.models.silences import ChangeFacts
from tests import demo, factories

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
FACTS = ChangeFacts(
    project_id=7, site_id=3, organisation_id=None, key_id=None, provider="stripe", integration_id=None, kind="provider"
)


@pytest.mark.parametrize(
    ("matchers", "matches"),
    [
        ({}, True),
        ({"project_id": 7}, True),
        ({"project_id": 8}, False),
        ({"site_id": 3}, True),
        ({"site_id": 4}, False),
        ({"site_id": 3, "provider": "stripe"}, True),
        ({"site_id": 3, "provider": "paddle"}, False),
        ({"kind": "provider"}, True),
        ({"kind": "source_health"}, False),
        ({"organisation_id": 1}, False),
        ({"key_id": 1}, False),
        ({"integration_id": 1}, False),
        ({"project_id": 7, "site_id": 3, "provider": "stripe", "kind": "provider"}, True),
    ],
)
def test_matchers_match_what_they_name_and_empty_ones_match_anything(matchers, matches):
    assert Silence(**matchers).matches_facts(FACTS) is matches


def test_an_integration_matcher_matches_that_integration_only():
    facts = ChangeFacts(None, None, 5, 2, "", 9, "integration_status")
    assert Silence(integration_id=9).matches_facts(facts)
    assert Silence(organisation_id=5, key_id=2).matches_facts(facts)
    assert not Silence(integration_id=10).matches_facts(facts)


def test_a_silence_is_active_from_its_start_until_its_end_or_early_end():
    start = datetime(2027, 1, 1, 12, tzinfo=UTC)
    muting = Silence(starts_at=start, ends_at=start + timedelta(hours=2))
    assert not muting.active_at(start - timedelta(seconds=1))
    assert muting.active_at(start)
    assert muting.active_at(start + timedelta(minutes=119))
    assert not muting.active_at(start + timedelta(hours=2))
    muting.ended_early_at = start + timedelta(minutes=30)
    assert not muting.active_at(start + timedelta(minutes=31))


def weekly(**fields: object) -> MaintenanceWindow:
    return MaintenanceWindow(name="Sunday backups", repeat="weekly", time_zone="Europe/Berlin", **fields)


def test_a_weekly_window_keeps_its_wall_clock_time_across_the_spring_change():
    window = weekly(weekdays=[6], start_time=time(1, 0), duration=timedelta(hours=1))
    found = window.occurrences(datetime(2027, 3, 20, tzinfo=UTC), datetime(2027, 4, 5, tzinfo=UTC))
    # 01:00 Berlin is 00:00 UTC in winter (CET) and 23:00 UTC the day before in summer (CEST).
    assert [begins for begins, _ in found] == [
        datetime(2027, 3, 21, 0, 0, tzinfo=UTC),
        datetime(2027, 3, 28, 0, 0, tzinfo=UTC),  # 28 March 2027: clocks go forward at 02:00
        datetime(2027, 4, 3, 23, 0, tzinfo=UTC),
    ]
    assert all(ends - begins == timedelta(hours=1) for begins, ends in found)


def test_a_start_time_the_clock_skips_starts_after_the_jump():
    window = weekly(weekdays=[6], start_time=time(2, 30), duration=timedelta(hours=1))
    ((begins, ends),) = window.occurrences(datetime(2027, 3, 27, tzinfo=UTC), datetime(2027, 3, 29, tzinfo=UTC))
    # 02:30 does not exist on 28 March in Berlin: it starts at 03:30 CEST (01:30 UTC), for an hour.
    assert begins == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    assert begins.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CEST"
    assert ends == datetime(2027, 3, 28, 2, 30, tzinfo=UTC)


def test_a_start_time_the_clock_passes_twice_starts_the_first_time_and_lasts_its_duration():
    window = weekly(weekdays=[6], start_time=time(2, 30), duration=timedelta(hours=2))
    ((begins, ends),) = window.occurrences(datetime(2027, 10, 30, tzinfo=UTC), datetime(2027, 11, 1, tzinfo=UTC))
    # 31 October 2027: 02:30 happens in CEST then in CET; the first (00:30 UTC) is taken, and the
    # two hours are elapsed time, so the window ends at 03:30 CET (02:30 UTC).
    assert begins == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert ends == datetime(2027, 10, 31, 2, 30, tzinfo=UTC)
    assert ends.astimezone(BERLIN).strftime("%H:%M %Z") == "03:30 CET"


def test_a_one_off_window_is_its_range():
    start = datetime(2027, 5, 1, 8, tzinfo=UTC)
    window = MaintenanceWindow(name="Migration", starts_at=start, ends_at=start + timedelta(hours=3))
    assert window.current(start + timedelta(hours=1)) == (start, start + timedelta(hours=3))
    assert window.current(start + timedelta(hours=3)) is None
    assert window.next_after(start - timedelta(days=1)) == (start, start + timedelta(hours=3))


@pytest.mark.django_db(transaction=True)
def test_a_weekly_window_across_the_spring_change_holds_alerts_back_then_says_what_is_still_broken(sandbox, smtp_sink):
    site = factories.site()
    MaintenanceWindow.objects.create(
        name="Sunday backups",
        repeat="weekly",
        weekdays=[6],
        start_time=time(2, 30),
        duration=timedelta(hours=1),
        time_zone="Europe/Berlin",
        site=site,
        created_at=datetime(2027, 3, 1, tzinfo=UTC),
    )
    with time_machine.travel(datetime(2027, 3, 28, 0, 30, tzinfo=UTC), tick=False):
        poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    # 01:45 UTC = 03:45 CEST: inside the window that starts after the jump (03:30-04:30 CEST).
    with time_machine.travel(datetime(2027, 3, 28, 1, 45, tzinfo=UTC), tick=False):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    change = StatusChange.objects.get(kind=ChangeKind.PROVIDER)
    assert change.maintenance is not None
    assert change.silenced_reason == "maintenance window “Sunday backups”"
    with time_machine.travel(datetime(2027, 3, 28, 2, 29, tzinfo=UTC), tick=False):
        assert follow_up_ended() == []
    with time_machine.travel(datetime(2027, 3, 28, 2, 31, tzinfo=UTC), tick=False):
        assert len(follow_up_ended()) == 1
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 1
    assert [str(message["Subject"]) for message in smtp_sink.messages] == [
        "[Paystatus] Still broken after the silence: Stripe on Acme Store (not connected)"
    ]
