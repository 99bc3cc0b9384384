"""The weekly digest: its content per project and globally, its moment in each project's time
zone, and its once-per-week guarantee, over real HTTP polls and a real SMTP sink."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations_app.alerts import digest
from integrations_app.datafast.poller import poll_site
from integrations_app.models import DigestRecord, Project
from tests import demo, factories

pytestmark = pytest.mark.django_db(transaction=True)


def next_monday_at(hour: int, minute: int = 5, zone: str = "UTC") -> datetime:
    """The first Monday hour:minute (in `zone`) at least an hour from now: polls made now fall in
    the week the digest then covers."""
    local = timezone.now().astimezone(zoneinfo.ZoneInfo(zone)) + timedelta(hours=1)
    days = (7 - local.weekday()) % 7
    candidate = (local + timedelta(days=days)).replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate


@pytest.fixture
def two_clients(sandbox, settings):
    """Acme (project A): Stripe broke and recovered, Bluebird's Lemon Squeezy still down, a Paddle
    key expiring in 20 days. Delta (project B): its own incident, which A's digest must not name."""
    settings.DIGEST_WEEKDAY, settings.DIGEST_HOUR = 0, 9
    acme, bee = Project.objects.create(name="Acme"), Project.objects.create(name="Bee")
    store = factories.site(project=acme)
    books = factories.site(demo.BLUEBIRD_BOOKS, "Bluebird Books", project=acme)
    harbor = factories.account(demo.OTHER_DATAFAST_TOKEN, "Harbor")
    other = factories.site(demo.HARBOR_HARDWARE, "Harbor Hardware", project=bee, account=harbor)
    sandbox.state.set_paddle_expiry(demo.ACME_STORE, timezone.now() + timedelta(days=26))
    for site in (store, books, other):
        poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "lemonsqueezy", False)
    poll_site(store.pk)
    poll_site(books.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
    poll_site(store.pk)
    return acme, bee, other


def test_a_projects_digest_says_what_broke_what_is_open_and_what_expires(two_clients, smtp_sink):
    acme, _bee, _other = two_clients
    with time_machine.travel(next_monday_at(9), tick=False):
        made = digest.build(acme, timezone.now())
    lines = made.lines()
    assert "Broke this week: 2" in lines
    assert any(line.startswith("- Stripe") and "recovered" in line for line in lines), lines
    assert any("Lemon Squeezy" in line and "still open" in line for line in lines), lines
    assert "Still open: 1" in lines
    assert any(line.startswith("- Bluebird Books: Lemon Squeezy disconnected") for line in lines), lines
    assert "Paddle keys expiring in the next 30 days: 1" in lines
    assert any(line.startswith("- Acme Store: in ") for line in lines), lines
    assert any(line.startswith("Polling: 100.0% of 5 polls succeeded") for line in lines), lines


def test_a_digest_never_names_another_projects_sources(two_clients):
    _acme, bee, _other = two_clients
    with time_machine.travel(next_monday_at(9), tick=False):
        lines = digest.build(bee, timezone.now()).lines()
    text = "\n".join(lines)
    assert "Acme Store" not in text and "Bluebird" not in text and "Stripe" not in text
    assert "Broke this week: 0" in lines


def test_the_global_digest_covers_every_source(two_clients):
    with time_machine.travel(next_monday_at(9), tick=False):
        lines = digest.build(None, timezone.now()).lines()
    assert "Broke this week: 2" in lines


def test_the_digest_goes_out_once_per_scope_and_week_at_the_configured_hour(two_clients, smtp_sink):
    monday = next_monday_at(9)
    with time_machine.travel(monday - timedelta(minutes=10), tick=False):
        assert digest.send_due(timezone.now()) == 0  # 08:55: not yet
    with time_machine.travel(monday, tick=False):
        assert digest.send_due(timezone.now()) == 3  # global, Acme, Bee
        assert digest.send_due(timezone.now()) == 0
    with time_machine.travel(monday + timedelta(days=3), tick=False):
        assert digest.send_due(timezone.now()) == 0  # same week, later
    subjects = sorted(message["Subject"] for message in smtp_sink.messages)
    assert len(subjects) == 3
    assert any("Weekly digest for Acme" in subject for subject in subjects)
    assert any("Weekly digest for all sources" in subject for subject in subjects)
    with time_machine.travel(monday + timedelta(days=7), tick=False):
        assert digest.send_due(timezone.now()) == 3  # the next week
    assert DigestRecord.objects.count() == 6


def test_two_senders_at_once_send_one_digest(two_clients, smtp_sink):
    with time_machine.travel(next_monday_at(9), tick=False):
        now = timezone.now()
        assert digest.claim(None, now) is True
        assert digest.claim(None, now) is False


def test_a_project_gets_its_digest_at_its_own_hour(two_clients, smtp_sink):
    acme, _bee, _other = two_clients
    acme.time_zone = "Asia/Tokyo"
    acme.save()
    tokyo_monday = next_monday_at(9, zone="Asia/Tokyo")  # Monday 00:05 UTC
    with time_machine.travel(tokyo_monday, tick=False):
        due = digest.due_scopes(timezone.now())
    assert due == [acme]


def test_building_a_digest_takes_the_same_queries_for_more_sources(sandbox):
    project = Project.objects.create(name="Acme")

    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            digest.build(project, timezone.now()).lines()
        return len(queries)

    factories.site(project=project, health="failing")
    few = measure()
    for index in range(20):
        factories.site(f"{index:024x}", f"Site {index}", project=project, health="failing")
    assert measure() == few


def test_a_projects_digest_goes_to_its_digest_channels_and_the_global_one_to_global_channels(
    two_clients, smtp_sink, chat_sink
):
    acme, _bee, _other = two_clients
    factories.channel(chat_sink.json_url("/acme"), name="Acme chat", project=acme)
    factories.channel(chat_sink.json_url("/acme-alerts"), name="Acme alerts", project=acme, takes_digests=False)
    factories.channel(chat_sink.json_url("/all"), name="Everyone")
    with time_machine.travel(next_monday_at(9), tick=False):
        assert digest.send_due(timezone.now()) == 3
    by_path = {post.path: post.json for post in chat_sink.messages()}
    assert sorted(by_path) == ["/acme", "/all"], "a channel that takes no digests hears of none"
    assert by_path["/acme"]["title"].startswith("Paystatus: Weekly digest for Acme: week of")
    assert "Broke this week: 2" in by_path["/acme"]["message"]
    assert by_path["/all"]["title"].startswith("Paystatus: Weekly digest for all sources")
    subjects = sorted(message["Subject"] for message in smtp_sink.messages)
    assert len(subjects) == 2, "the admins: the global digest, and Bee's (no digest channel of its own)"
    assert not any("for Acme" in subject for subject in subjects)


def test_a_digest_channel_that_fails_is_recorded_on_the_weeks_row_never_sent_twice(two_clients, smtp_sink, chat_sink):
    acme, _bee, _other = two_clients
    chat_sink.status = 500
    factories.channel(chat_sink.json_url("/acme/hooktoken-7f3a9c2e51d84b60"), name="Acme chat", project=acme)
    with time_machine.travel(next_monday_at(9), tick=False):
        digest.send_due(timezone.now())
        assert digest.send_due(timezone.now()) == 0
    record = DigestRecord.objects.get(project=acme)
    assert record.error.startswith("Acme chat: json:") and "500" in record.error
    assert "hooktoken" not in record.error
    assert len(chat_sink.messages()) == 1
