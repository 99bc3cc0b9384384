"""The weekly digest counts each problem once, from its first alert to its recovery (a "still
broken after the silence" is the same problem), counts every open problem past the listed ones, and
dates itself in the project's time zone. Real polls of the sandbox over HTTP, only the clock moved."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations_app.alerts import digest
from integrations_app.alerts.policy import follow_up_ended
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Silence, StatusChange
from integrations_app.models.history import ChangeKind
from tests import demo, factories

pytestmark = pytest.mark.django_db(transaction=True)


def at(start: datetime, hours: float) -> time_machine.travel:
    return time_machine.travel(start + timedelta(hours=hours), tick=False)


def test_a_problem_still_broken_after_a_silence_then_recovered_is_one_recovered_incident(sandbox):
    start = timezone.now().replace(microsecond=0)
    project = factories.project("Acme")
    site = factories.site(project=project)
    with at(start, 0):
        poll_site(site.pk)
    Silence.objects.create(site=site, starts_at=start, ends_at=start + timedelta(hours=2))
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    with at(start, 0):
        poll_site(site.pk)
    with at(start, 2):
        assert len(follow_up_ended()) == 1
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
    with at(start, 4):
        poll_site(site.pk)
    assert StatusChange.objects.filter(kind=ChangeKind.STILL_BROKEN).count() == 1
    with at(start, 5):
        lines = digest.build(project, timezone.now()).lines()
    assert lines[:2] == ["Broke this week: 1", "- Stripe disconnected on Acme Store (recovered, 4 h 0 min)"], lines


def test_still_open_counts_every_open_problem_past_the_listed_ones(sandbox):
    project = factories.project("Acme")
    for index in range(digest.MAX_LISTED + 3):
        factories.site(f"{index:024x}", f"Site {index}", project=project, health="failing")
    lines = digest.build(project, timezone.now()).lines()
    assert f"Still open: {digest.MAX_LISTED + 3}" in lines
    assert len([line for line in lines if line.startswith("- Site ")]) == digest.MAX_LISTED


def test_the_digest_is_dated_in_the_projects_time_zone(sandbox, settings):
    settings.TIME_ZONE = "UTC"
    project = factories.project("Acme", time_zone="Pacific/Auckland")
    end = datetime(2026, 3, 2, 12, 30, tzinfo=zoneinfo.ZoneInfo("UTC"))  # a week from Mon 23 Feb 12:30 UTC
    assert digest.build(project, end).title == "Weekly digest for Acme: week of 24 Feb 2026"  # Auckland: Tue 01:30
    assert digest.build(None, end).title == "Weekly digest for all sources: week of 23 Feb 2026"
