"""Silences and maintenance windows as chat channels hear them: real polls of the sandbox over HTTP,
channels delivering over real HTTP to local sinks (tests/chat_sink.py), only the clock moved.
Each test counts the messages every sink received, exactly."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.alerts.policy import follow_up_ended
from integrations_app.datafast.poller import poll_site
from integrations_app.models import AuditEntry, DataFastSite, MaintenanceWindow, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import factories
from tests.silences import test_policy
from tests.silences.test_policy import at, set_stripe, silence

pytestmark = pytest.mark.django_db(transaction=True)
start = test_policy.start  # the fixture: now, to the second


def titles(sink: Any) -> list[str]:
    return [post.json["title"] for post in sink.messages()]


@pytest.fixture
def site(sandbox: Any, start: datetime, chat_sink: Any, other_chat_sink: Any) -> DataFastSite:
    """Acme Store in Client A, whose chat is chat_sink /a; a global chat (other_chat_sink /all)
    hears every source. Polled fine once at `start`."""
    project = factories.project("Client A")
    site = factories.site(project=project)
    factories.channel(chat_sink.json_url("/a"), name="A's chat", project=project)
    factories.channel(other_chat_sink.json_url("/all"), name="Everyone")
    with at(start, 0):
        poll_site(site.pk)
    return site


STILL_BROKEN = "Paystatus: Still broken after the silence: Stripe on Acme Store (not connected)"
DISCONNECTED = "Paystatus: Stripe disconnected on Acme Store"
RECONNECTED = "Paystatus: Stripe reconnected on Acme Store"


def test_a_silence_expires_by_itself_in_chat(sandbox, site, start, chat_sink, other_chat_sink):
    silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 121):  # one minute after its end: the disconnect is told as usual
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert titles(chat_sink) == [DISCONNECTED]
    assert titles(other_chat_sink) == [DISCONNECTED]


def test_still_broken_after_the_silence_reaches_each_chat_once(sandbox, site, start, chat_sink, other_chat_sink):
    silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    assert chat_sink.messages() == [] and other_chat_sink.messages() == []
    with at(start, 121):
        assert len(follow_up_ended()) == 1
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 1
    with at(start, 200):
        poll_site(site.pk)
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 0
    assert titles(chat_sink) == [STILL_BROKEN]
    assert titles(other_chat_sink) == [STILL_BROKEN]


def test_a_recovery_during_a_silence_reaches_only_the_chats_that_heard(
    sandbox, site, start, *, chat_sink, other_chat_sink, smtp_sink
):
    a_chat = site.project.channels.get()
    a_chat.takes_problems = False  # A's chat hears recoveries only: it never heard of this problem
    a_chat.save()
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert (chat_sink.messages(), titles(other_chat_sink), len(smtp_sink.messages)) == ([], [DISCONNECTED], 1)
    silence(site, start + timedelta(minutes=10), hours=2)
    set_stripe(sandbox, True)
    with at(start, 20):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert titles(other_chat_sink) == [DISCONNECTED, RECONNECTED], "the chat that heard of it hears it recovered"
    assert chat_sink.messages() == [], "a chat that never heard of the problem is not told of its recovery"
    assert len(smtp_sink.messages) == 2, "the admins heard of it: they get the recovery too"
    with at(start, 200):
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 0
    assert (len(chat_sink.messages()), len(other_chat_sink.messages()), len(smtp_sink.messages)) == (0, 2, 2)


def test_a_recovery_during_a_silence_nobody_heard_of_is_quiet_everywhere(
    sandbox, site, start, *, chat_sink, other_chat_sink, smtp_sink
):
    silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
    set_stripe(sandbox, True)
    with at(start, 20):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    with at(start, 130):
        assert follow_up_ended() == []
    assert (len(chat_sink.messages()), len(other_chat_sink.messages()), len(smtp_sink.messages)) == (0, 0, 0)


def running_window(site: DataFastSite, start: datetime) -> MaintenanceWindow:
    return MaintenanceWindow.objects.create(
        name="Database upgrade",
        site=site,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        created_at=start,
        owner_project=site.project,
    )


def test_deleting_a_running_window_says_what_is_still_broken_once(
    sandbox, site, start, *, chat_sink, other_chat_sink, smtp_sink
):
    window = running_window(site, start)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    assert StatusChange.objects.get(kind=ChangeKind.PROVIDER).maintenance == window
    staff = Client()
    staff.force_login(factories.staff("bob"))
    with at(start, 30):
        response = staff.post(reverse("window-delete", args=[window.pk]), follow=True)
        assert "1 thing(s) still broken" in response.content.decode()
        assert send_pending_alerts(wait=False).sent == 1
    with at(start, 200):  # the window's own end passes: it is gone, nothing more is said
        assert follow_up_ended() == []
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    assert titles(chat_sink) == [STILL_BROKEN]
    assert titles(other_chat_sink) == [STILL_BROKEN]
    assert len(smtp_sink.messages) == 1
    follow_up = StatusChange.objects.get(kind=ChangeKind.STILL_BROKEN)
    assert (follow_up.severity, follow_up.notify) == (Severity.PROBLEM, True)
    assert follow_up.reason == "still broken after the maintenance window “Database upgrade” ended early by bob"
    assert not MaintenanceWindow.objects.exists()
    assert AuditEntry.objects.filter(action="maintenance.delete").count() == 1


def test_deleting_a_running_window_after_a_recovery_says_nothing(sandbox, site, start, chat_sink, other_chat_sink):
    window = running_window(site, start)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
    set_stripe(sandbox, True)
    with at(start, 20):
        poll_site(site.pk)
    staff = Client()
    staff.force_login(factories.staff("bob"))
    with at(start, 30):
        staff.post(reverse("window-delete", args=[window.pk]))
        assert send_pending_alerts(wait=False).sent == 0
    assert chat_sink.messages() == [] and other_chat_sink.messages() == []
