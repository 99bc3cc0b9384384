"""The demo's clients as projects, an alert landing in the sandbox's chat inbox for real, and the
demo's silence flow ending in one "still broken" message there."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import requests
import time_machine
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from integrations_app import tasks
from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Channel, DataFastSite, Project, Silence, StatusChange
from integrations_app.models.history import ChangeKind
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


def test_in_the_demo_a_staff_user_silences_a_site_for_2_hours_ends_it_and_one_still_broken_reaches_the_chat(
    sandbox, staff_client, settings
):
    """Issue 12's "done when", against the demo data: silence Acme Store for two hours from its page,
    see Stripe's disconnect recorded as silenced (nothing sent), end the silence early, and one
    "still broken after the silence" message lands in Acme Retail's chat in the sandbox inbox."""
    call_command("load_demo", stdout=io.StringIO())
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False):
        poll_site(acme.pk)
        send_pending_alerts(wait=False)
        assert inbox(sandbox) == []
        page = staff_client.get(acme.get_absolute_url()).content.decode()
        silence_url = reverse("silence-create") + f"?site={acme.pk}"
        assert f'href="{silence_url}"' in page, "the site's page offers to silence it"
        response = staff_client.post(silence_url, {"length": "2h", "comment": "Stripe account migration"})
        assert response.status_code == 302
    silence = Silence.objects.get()
    assert (silence.site, silence.ends_at - silence.starts_at) == (acme, timedelta(hours=2))
    with time_machine.travel(start + timedelta(minutes=5), tick=False):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
        poll_site(acme.pk)
        send_pending_alerts(wait=False)
        assert inbox(sandbox) == [], "silenced: recorded, not sent"
        (change,) = StatusChange.objects.filter(site=acme, kind=ChangeKind.PROVIDER, at__gte=start)
        assert change.silence == silence and not change.notify
        page = staff_client.get(acme.get_absolute_url()).content.decode()
        assert "silenced by staff until" in page and "Stripe account migration" in page
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        response = staff_client.post(reverse("silence-end", args=[silence.pk]), follow=True)
        assert "1 thing(s) still broken: an alert says so." in response.content.decode()
    # What beat does next: its follow-up entry (nothing more to say: said once) and its sender.
    assert "follow-up-silences" in settings.CELERY_BEAT_SCHEDULE
    with time_machine.travel(start + timedelta(minutes=30, seconds=15), tick=False):
        assert tasks.follow_up_silences() == 0
        send_pending_alerts()
    with time_machine.travel(start + timedelta(minutes=31), tick=False):
        assert tasks.follow_up_silences() == 0
        send_pending_alerts()
    (message,) = inbox(sandbox)
    assert message["chat"] == "acme-retail"
    assert message["title"] == "Paystatus: Still broken after the silence: Stripe on Acme Store (not connected)"
    assert message["text"].endswith(f"http://testserver/sites/{acme.pk}/"), "one line, linking to the site"
