"""The demo's clients as projects, and an alert landing in the sandbox's chat inbox for real."""

from __future__ import annotations

import io

import pytest
import requests
from django.core.management import call_command

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Channel, DataFastSite, Project
from tests import demo

pytestmark = pytest.mark.django_db(transaction=True)


def inbox(sandbox) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = requests.get(f"{sandbox.url}/_sandbox/inbox/messages", timeout=5).json()
    return messages


def test_the_demo_has_three_projects_and_acmes_alerts_land_in_the_sandbox_chat(sandbox, mailoutbox):
    call_command("load_demo", stdout=io.StringIO())
    call_command("load_demo", stdout=io.StringIO())  # idempotent
    assert list(Project.objects.values_list("name", flat=True)) == [
        "Acme Retail",
        "Bluebird Media",
        "Cedar Hospitality",
    ]
    (channel,) = Channel.objects.all()
    assert channel.project is not None and channel.project.name == "Acme Retail"
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    bluebird = DataFastSite.objects.get(website_id=demo.BLUEBIRD_BOOKS)
    assert (acme.project, bluebird.project) == (channel.project, Project.objects.get(name="Bluebird Media"))
    for site in (acme, bluebird):
        poll_site(site.pk)
        sandbox.state.set_connected(site.website_id, "stripe", False)
        poll_site(site.pk)
    send_pending_alerts(wait=False)
    (message,) = inbox(sandbox)
    assert message["chat"] == "acme-retail"
    assert message["title"] == "Paystatus: Stripe disconnected on Acme Store"
    assert "Bluebird" not in message["text"], "another client's site never reaches Acme's chat"
    assert len(mailoutbox) == 1 and "Bluebird" in mailoutbox[0].body, "the global email hears of both"
