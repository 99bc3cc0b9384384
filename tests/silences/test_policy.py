"""Silences and maintenance windows in the notify policy, end to end: real polls of the sandbox over
HTTP, real SMTP to the sink, only the clock moved (time_machine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.alerts.policy import follow_up_ended
from integrations_app.datafast.poller import poll_site
from integrations_app.models import DataFastSite, ProviderState, Silence, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories

pytestmark = pytest.mark.django_db(transaction=True)


def at(start: datetime, minutes: float) -> Any:
    return time_machine.travel(start + timedelta(minutes=minutes), tick=False)


def subjects(sink: Any) -> list[str]:
    return [str(message["Subject"]) for message in sink.messages]


def silence(site: DataFastSite, start: datetime, hours: float = 2, **fields: Any) -> Silence:
    user = User.objects.filter(username="alice").first() or factories.staff("alice")
    return Silence.objects.create(
        site=site, starts_at=start, ends_at=start + timedelta(hours=hours), created_by=user, comment="deploy", **fields
    )


def set_stripe(sandbox: Any, connected: bool) -> None:
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", connected)


@pytest.fixture
def start() -> datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def site(sandbox: Any, start: datetime) -> DataFastSite:
    site = factories.site()
    with at(start, 0):
        poll_site(site.pk)
    return site


def test_a_change_under_a_silence_is_recorded_with_its_mark_and_not_sent(sandbox, smtp_sink, site, start):
    muting = silence(site, start + timedelta(minutes=1))
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 0
    change = StatusChange.objects.get(kind=ChangeKind.PROVIDER, provider="stripe")
    assert (change.severity, change.notify, change.silence) == (Severity.PROBLEM, False, muting)
    assert change.silenced_reason.startswith("silenced by alice until ")
    assert change.silenced_reason.endswith(": deploy")
    # The incident is open all the same: the policy never decides it.
    assert ProviderState.objects.get(site=site, provider="stripe").alert_open
    assert smtp_sink.messages == []


def test_a_silence_expires_by_itself(sandbox, smtp_sink, site, start):
    silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 121):  # one minute after its end
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert subjects(smtp_sink) == ["[Paystatus] Stripe disconnected on Acme Store"]
    assert not StatusChange.objects.get(kind=ChangeKind.PROVIDER).silenced


def test_still_broken_after_the_silence_is_said_exactly_once(sandbox, smtp_sink, site, start):
    silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
        send_pending_alerts(wait=False)
    with at(start, 119):
        assert follow_up_ended() == []  # not over yet
    with at(start, 121):
        (written,) = follow_up_ended()
        assert follow_up_ended() == []  # once, however often asked
        assert send_pending_alerts(wait=False).sent == 1
    with at(start, 200):
        poll_site(site.pk)  # still broken: nothing new to say
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 0
    assert (written.kind, written.severity, written.site_id, written.provider) == (
        ChangeKind.STILL_BROKEN,
        Severity.PROBLEM,
        site.pk,
        "stripe",
    )
    assert subjects(smtp_sink) == ["[Paystatus] Still broken after the silence: Stripe on Acme Store (not connected)"]
    body = smtp_sink.messages[0].get_body(("plain",)).get_content()
    assert "still broken after the silence by alice ended (deploy)" in body


def test_ending_a_silence_early_follows_up_at_once(sandbox, smtp_sink, site, start):
    muting = silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
    with at(start, 20):
        Silence.objects.filter(pk=muting.pk).update(ended_early_at=timezone.now())
        assert len(follow_up_ended()) == 1
        assert send_pending_alerts(wait=False).sent == 1
    assert len(smtp_sink.messages) == 1


def break_then_recover(sandbox: Any, site: DataFastSite, start: datetime) -> None:
    """Stripe disconnects on the site 10 minutes after `start` and reconnects 10 minutes later."""
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
    set_stripe(sandbox, True)
    with at(start, 20):
        poll_site(site.pk)


def test_a_problem_that_recovers_during_the_silence_is_closed_quietly(sandbox, smtp_sink, site, start, chat_sink):
    factories.channel(chat_sink.json_url("/all"), name="Everyone")  # chat over real HTTP hears nothing either
    silence(site, start, hours=2)
    break_then_recover(sandbox, site, start)
    with at(start, 20):
        send_pending_alerts(wait=False)
    with at(start, 130):
        assert follow_up_ended() == []
        assert send_pending_alerts(wait=False).sent == 0
    assert smtp_sink.messages == []
    assert chat_sink.messages() == []
    changes = StatusChange.objects.filter(kind=ChangeKind.PROVIDER).order_by("at")
    assert [(change.severity, change.silenced) for change in changes] == [
        (Severity.PROBLEM, True),
        (Severity.RECOVERY, True),
    ]
    assert not ProviderState.objects.get(site=site, provider="stripe").alert_open


def test_a_recovery_during_a_silence_reaches_those_who_heard_of_the_problem(sandbox, smtp_sink, site, start):
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1  # people hear of it
    silence(site, start + timedelta(minutes=10), hours=2)
    set_stripe(sandbox, True)
    with at(start, 20):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert subjects(smtp_sink) == [
        "[Paystatus] Stripe disconnected on Acme Store",
        "[Paystatus] Stripe reconnected on Acme Store",
    ]
    recovery = StatusChange.objects.get(kind=ChangeKind.PROVIDER, severity=Severity.RECOVERY)
    assert (recovery.notify, recovery.silenced) == (True, False)
    with at(start, 200):
        assert follow_up_ended() == []


def test_a_silence_on_another_provider_or_kind_does_not_hold_the_change_back(sandbox, smtp_sink, site, start):
    silence(site, start, provider="paddle")
    silence(site, start, kind=ChangeKind.SOURCE_HEALTH)
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
        assert send_pending_alerts(wait=False).sent == 1
    assert not StatusChange.objects.get(kind=ChangeKind.PROVIDER).silenced


def test_a_silence_of_the_project_holds_back_its_sources_only(sandbox, smtp_sink, site, start):
    from integrations_app.models import Project

    client_a, client_b = Project.objects.create(name="A"), Project.objects.create(name="B")
    DataFastSite.objects.filter(pk=site.pk).update(project=client_a)
    Silence.objects.create(project=client_b, starts_at=start, ends_at=start + timedelta(hours=1))
    set_stripe(sandbox, False)
    with at(start, 5):
        poll_site(site.pk)
    assert not StatusChange.objects.get(kind=ChangeKind.PROVIDER).silenced
    Silence.objects.create(project=client_a, starts_at=start, ends_at=start + timedelta(hours=1))
    set_stripe(sandbox, True)
    with at(start, 10):
        poll_site(site.pk)
    # People heard of the disconnect (nothing silenced it): the recovery is told.
    assert StatusChange.objects.get(severity=Severity.RECOVERY).notify
