"""Channels end to end: real polls against the sandbox, real sends through Apprise to local HTTP
sinks (json:// webhooks, mmost:// Mattermost), routing by project and narrowing, retries."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations_app.alerts import policy
from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, Channel, DataFastSite, Delivery, StatusChange, Vendor
from integrations_app.models.history import ChangeKind
from tests import demo, factories

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = "hooktoken-7f3a9c2e51d84b60"  # the secret part of the channels' URLs


def disconnect(sandbox, *sites: DataFastSite) -> None:
    for site in sites:
        poll_site(site.pk)
    for site in sites:
        sandbox.state.set_connected(site.website_id, "stripe", False)
    for site in sites:
        poll_site(site.pk)


def test_a_project_webhook_gets_the_disconnect_with_a_title_a_line_and_a_link(sandbox, chat_sink, mailoutbox, caplog):
    caplog.set_level(logging.DEBUG)
    client_a = factories.project("Client A")
    site = factories.site(project=client_a)
    factories.channel(chat_sink.json_url(f"/hook/{TOKEN}"), name="A's webhook", project=client_a)
    disconnect(sandbox, site)
    report = send_pending_alerts(wait=False)
    assert (report.sent, report.channel_sent, report.channel_failed) == (1, 1, 0)
    (post,) = chat_sink.messages()
    assert post.path == f"/hook/{TOKEN}"
    assert post.json["title"] == "Paystatus: Stripe disconnected on Acme Store"
    assert post.json["message"] == f"✖ Stripe disconnected on Acme Store http://testserver/sites/{site.pk}/"
    assert TOKEN not in post.text and demo.DATAFAST_TOKEN.reveal() not in post.text
    assert len(mailoutbox) == 1, "the admins' global email still goes"
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Delivery.Status.SENT, 1, "")
    assert TOKEN not in caplog.text, "the channel's URL is never logged"


def test_a_mattermost_channel_gets_one_message_for_the_changes_of_one_cycle(sandbox, chat_sink):
    acme = factories.site()
    bluebird = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird")
    factories.channel(chat_sink.mattermost_url(TOKEN), name="Ops room")  # global
    disconnect(sandbox, acme, bluebird)
    send_pending_alerts(wait=False)
    (post,) = chat_sink.messages()
    assert post.path == f"/hooks/{TOKEN}"
    text = post.json["text"]
    assert "2 changes: 2 problems" in text
    assert f"Stripe disconnected on Acme Store http://testserver/sites/{acme.pk}/" in text
    assert f"Stripe disconnected on Bluebird http://testserver/sites/{bluebird.pk}/" in text
    assert TOKEN not in post.text
    send_pending_alerts(wait=False)
    assert len(chat_sink.messages()) == 1, "nothing twice"


def test_an_alert_reaches_its_projects_channels_and_the_global_ones_only(sandbox, chat_sink):
    client_a, client_b = factories.project("Client A"), factories.project("Client B")
    site_b = factories.site(project=client_b)
    factories.channel(chat_sink.json_url("/a"), name="A", project=client_a)
    factories.channel(chat_sink.json_url("/b"), name="B", project=client_b)
    factories.channel(chat_sink.json_url("/all"), name="Everyone")
    disconnect(sandbox, site_b)
    send_pending_alerts(wait=False)
    assert sorted(post.path for post in chat_sink.messages()) == ["/all", "/b"]
    (change,) = StatusChange.objects.filter(notify=True)
    assert sorted(channel.name for channel in policy.channels_that_heard([change])) == ["B", "Everyone"]
    assert policy.admins_heard([change])


def test_a_channel_narrowed_by_vendor_kind_or_message_kind_hears_only_that(sandbox, chat_sink):
    site = factories.site()
    factories.channel(chat_sink.json_url("/cbs"), name="CBS only", vendors=[Vendor.CHARGEBACKSTOP])
    factories.channel(chat_sink.json_url("/df"), name="DataFast only", vendors=[Vendor.DATAFAST])
    factories.channel(chat_sink.json_url("/health"), name="Health only", change_kinds=[ChangeKind.SOURCE_HEALTH])
    factories.channel(chat_sink.json_url("/recoveries"), name="Recoveries", takes_problems=False)
    disconnect(sandbox, site)
    send_pending_alerts(wait=False)
    assert [post.path for post in chat_sink.messages()] == ["/df"]


def test_a_failing_channel_retries_with_backoff_and_records_its_error_while_another_delivers(
    sandbox, chat_sink, other_chat_sink
):
    site = factories.site()
    chat_sink.status = 500
    broken = factories.channel(chat_sink.json_url(f"/hook/{TOKEN}"), name="Broken")
    factories.channel(other_chat_sink.mattermost_url(TOKEN), name="Working")
    disconnect(sandbox, site)
    report = send_pending_alerts(wait=False)
    assert (report.channel_sent, report.channel_failed) == (1, 1)
    assert len(other_chat_sink.messages()) == 1
    failed = Delivery.objects.get(channel=broken)
    assert (failed.status, failed.attempts) == (Delivery.Status.FAILED, 1)
    assert "500" in failed.last_error and TOKEN not in failed.last_error
    assert send_pending_alerts(wait=False).channel_sent == 0, "not before its retry time"
    assert len(chat_sink.messages()) == 1
    chat_sink.status = 200
    with time_machine.travel(timezone.now() + timedelta(minutes=2)):
        assert send_pending_alerts(wait=False).channel_sent == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == (Delivery.Status.SENT, 2, "")
    assert len(chat_sink.messages()) == 2 and len(other_chat_sink.messages()) == 1, "the working one not twice"


def test_a_channel_that_does_not_answer_fails_at_the_deadline(sandbox, chat_sink, settings):
    settings.CHANNEL_SEND_DEADLINE = 1
    chat_sink.delay = 5
    site = factories.site()
    factories.channel(chat_sink.json_url("/slow"), name="Slow")
    disconnect(sandbox, site)
    started = time.monotonic()
    send_pending_alerts(wait=False)
    assert time.monotonic() - started < 4
    delivery = Delivery.objects.get()
    assert delivery.status == Delivery.Status.FAILED
    assert "did not answer within 1 seconds" in delivery.last_error


def test_without_admins_an_alert_routed_to_channels_is_not_a_failure(sandbox, chat_sink, settings, mailoutbox):
    settings.ALERT_RECIPIENTS = []
    site = factories.site()
    factories.channel(chat_sink.json_url("/hook"), name="Chat")
    disconnect(sandbox, site)
    send_pending_alerts(wait=False)
    assert Alert.objects.get().status == Alert.Status.NO_EMAIL
    assert len(chat_sink.messages()) == 1 and mailoutbox == []


def test_hostile_names_reach_chat_as_clean_lines(sandbox, chat_sink):
    site = factories.site(name="Acme\r\nInjected: yes\u202e evil")
    factories.channel(chat_sink.json_url("/hook"), name="Chat")
    disconnect(sandbox, site)
    send_pending_alerts(wait=False)
    (post,) = chat_sink.messages()
    assert "\r" not in post.json["title"] and "\n" not in post.json["title"]
    assert "\u202e" not in post.text and "\r" not in post.json["message"]
    assert post.json["message"].count("\n") == 0, "one line per change"


def test_1000_sources_in_100_projects_50_changes_make_one_message_per_affected_channel(chat_sink, mailoutbox):
    account = factories.account()
    projects = [factories.project(f"Client {number:03}") for number in range(100)]
    DataFastSite.objects.bulk_create(
        DataFastSite(
            account=account, name=f"Site {number}", website_id=f"{number:024x}", project=projects[number % 100]
        )
        for number in range(1000)
    )
    for project in projects:
        factories.channel(chat_sink.json_url(f"/p{project.pk}"), name=f"{project.name} chat", project=project)
    factories.channel(chat_sink.json_url("/global"), name="Everyone")
    sites = list(DataFastSite.objects.order_by("pk")[:50])  # projects 0..49, one change each…
    sites += list(DataFastSite.objects.filter(project=projects[0]).order_by("pk")[1:3])  # …and two more in one
    with CaptureQueriesContext(connection) as queries:
        factories.disconnections(sites)
        send_pending_alerts(wait=False)
    posts = chat_sink.messages()
    assert len(posts) == 51, "50 projects' channels and the global one, once each"
    assert len({post.path for post in posts}) == 51
    (everyone,) = chat_sink.messages("/global")
    assert everyone.json["title"] == "Paystatus: 52 changes: 52 problems"
    (first,) = chat_sink.messages(f"/p{projects[0].pk}")
    assert first.json["message"].count("\n") == 2, "its three changes, one line each"
    assert len(mailoutbox) == 1
    assert Delivery.objects.filter(status=Delivery.Status.SENT).count() == 51
    assert len(queries) < 51 * 12, "a bounded number of queries per delivery, none per source"
    assert Channel.objects.count() == 101
