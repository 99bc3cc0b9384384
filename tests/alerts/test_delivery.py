from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, StatusChange
from tests import demo, factories
from tests.ports import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def disconnect_stripe(sandbox) -> None:
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(site.pk)


def test_a_disconnect_reaches_the_admins_by_smtp_with_text_and_html(sandbox, smtp_sink, settings):
    settings.TIME_ZONE = "Europe/Paris"
    disconnect_stripe(sandbox)
    report = send_pending_alerts(wait=False)
    assert report.sent == 1
    (message,) = smtp_sink.messages
    assert message["Subject"] == "[Paystatus] Stripe disconnected on Acme Store"
    assert set(message["To"].split(", ")) == {"ops@example.com", "oncall@example.com"}
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    site_url = f"{settings.SITE_URL}/sites/"
    for body in (text, html):
        assert "Stripe disconnected on Acme Store" in body
        assert site_url in body
        assert "Europe/Paris" in body
        assert "✖ Stripe disconnected" in body, "the source's state now, in the pages' words"
        assert demo.DATAFAST_TOKEN.reveal() not in body
    assert ("CET" in text) or ("CEST" in text)
    alert = Alert.objects.get()
    assert (alert.status, alert.attempts, alert.error) == (Alert.Status.SENT, 1, "")


def test_changes_of_one_cycle_are_grouped_into_one_email(sandbox, mailoutbox):
    site_ids = [
        factories.site(website_id=website, name=name).pk
        for website, name in [(demo.ACME_STORE, "Acme"), (demo.BLUEBIRD_BOOKS, "Bluebird")]
    ]
    key = factories.key()
    for pk in site_ids:
        poll_site(pk)
    poll_key(key.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    sandbox.state.revoke_key(demo.PARTNER_KEY.reveal())
    for pk in site_ids:
        poll_site(pk)
    poll_key(key.pk)
    send_pending_alerts(wait=False)
    (message,) = mailoutbox
    assert message.subject == "[Paystatus] 3 changes: 3 problems"
    assert "Stripe disconnected on Acme" in message.body
    assert "Stripe disconnected on Bluebird" in message.body
    assert "ChargebackStop refused the API key Northwind" in message.body


def test_the_sender_waits_for_a_cycle_to_finish_before_grouping(sandbox, mailoutbox):
    disconnect_stripe(sandbox)
    assert send_pending_alerts().sent == 0, "changes younger than the grouping window wait"
    with time_machine.travel(timezone.now() + timedelta(seconds=10)):
        assert send_pending_alerts().sent == 1
    assert len(mailoutbox) == 1


def test_parallel_senders_never_send_the_same_change_twice(sandbox, mailoutbox):
    disconnect_stripe(sandbox)
    barrier = threading.Barrier(4)

    def sender() -> None:
        barrier.wait()
        send_pending_alerts(wait=False)

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(mailoutbox) == 1
    assert StatusChange.objects.get(notify=True).alert is not None
    assert Alert.objects.count() == 1


def test_a_failed_send_is_logged_and_retried_later(sandbox, settings, smtp_sink):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    disconnect_stripe(sandbox)
    assert send_pending_alerts(wait=False).failed == 1
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.FAILED
    assert "Connection refused" in alert.error or "Errno" in alert.error
    settings.EMAIL_PORT = smtp_sink.port
    assert send_pending_alerts(wait=False).sent == 0, "not before its retry time"
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert send_pending_alerts(wait=False).sent == 1
    assert len(smtp_sink.messages) == 1
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == (Alert.Status.SENT, 2)


def test_without_recipients_the_alert_fails_with_a_clear_error(sandbox, settings, mailoutbox):
    settings.ALERT_RECIPIENTS = []
    disconnect_stripe(sandbox)
    send_pending_alerts(wait=False)
    alert = Alert.objects.get()
    assert alert.status == Alert.Status.FAILED
    assert "ADMINS" in alert.error
    assert mailoutbox == []
