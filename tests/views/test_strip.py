"""The overview's 24 h strip: one cell per hour, drawn from poll attempts and problem changes."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from integrations_app.models import DataFastSite, PollAttempt, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.views.strip import HOURS, strips
from tests import factories

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 30, 12, 30, tzinfo=UTC)  # the last cell is 12:00 to 13:00


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def change(site: DataFastSite, at: datetime, severity: str, provider: str = "stripe") -> None:
    StatusChange.objects.create(
        site=site, kind=ChangeKind.PROVIDER, provider=provider, severity=severity, at=at, old="x", new="y"
    )


def strip_of(site: DataFastSite) -> list[str]:
    row = DataFastSite.objects.get(pk=site.pk)
    return [hour.state for hour in strips([row], NOW)[site.pk].hours]


@time_machine.travel(NOW, tick=False)
def test_each_hour_shows_polls_failures_and_open_problems():
    site = factories.site(last_polled_at=NOW, last_success_at=NOW, stale_after=NOW + timedelta(hours=1), health="ok")
    for hours in range(HOURS):
        PollAttempt.objects.create(site=site, started_at=ago(hours), ok=hours != 3)
    change(site, ago(10), Severity.PROBLEM)  # 02:30, recovered at 04:30
    change(site, ago(8), Severity.RECOVERY)
    states = strip_of(site)
    assert len(states) == HOURS
    assert states[-1] == "up"
    assert states[-4] == "warn", "a failed poll at 09:30 without a problem open"
    assert states[-11:-8] == ["down", "down", "down"], "open from 02:30 to 04:30"
    assert states.count("down") == 3
    assert states[0] == "up"


@time_machine.travel(NOW, tick=False)
def test_a_problem_open_before_the_window_colours_it_from_the_start_and_hours_without_polls_are_empty():
    site = factories.site()
    change(site, ago(5), Severity.RECOVERY)  # its problem was opened before the window
    states = strip_of(site)
    assert states[: HOURS - 5] == ["down"] * (HOURS - 5)
    assert states[-1] == "none", "not polled, no problem now"


def test_the_summary_is_words_for_a_screen_reader():
    site = factories.site()
    PollAttempt.objects.create(site=site, ok=False)
    row = DataFastSite.objects.get(pk=site.pk)
    assert strips([row])[site.pk].summary == "Last 24 h: 1 h with poll errors"


def test_the_hours_are_labelled_in_the_readers_zone_whoever_drew_the_window_first():
    """The window's cells are built once per hour and zone (views/strip.py `_window`): a reader in
    another zone gets their own labels, not those of whoever asked first."""
    site = factories.site()
    row = DataFastSite.objects.get(pk=site.pk)
    with timezone.override(zoneinfo.ZoneInfo("UTC")):
        utc = strips([row], NOW)[site.pk].hours[-1].label
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        kolkata = strips([row], NOW)[site.pk].hours[-1].label
    assert utc == "12:00–13:00: not polled"
    assert kolkata == "17:30–18:30: not polled"


@time_machine.travel(NOW, tick=False)
def test_rows_with_the_same_day_share_one_strip_and_the_others_keep_their_own(viewer_client):
    """One Strip per distinct day (its summary and SVG made once), yet each row still shows its own."""
    quiet, also_quiet, failing = (factories.site(f"{index:024x}", name=f"Shop {index}") for index in range(3))
    PollAttempt.objects.create(site=failing, started_at=ago(2), ok=False)
    rows = list(DataFastSite.objects.order_by("pk"))
    drawn = strips(rows, NOW)
    assert drawn[quiet.pk] is drawn[also_quiet.pk]
    assert drawn[quiet.pk].summary == "Last 24 h: not polled"
    assert drawn[failing.pk].summary == "Last 24 h: 1 h with poll errors"
    html = viewer_client.get(reverse("overview")).content.decode()
    assert html.count('aria-label="Last 24 h: not polled"') == 2
    assert html.count('aria-label="Last 24 h: 1 h with poll errors"') == 1
