"""`/api/status.json` lists what holds alerts back: the maintenance windows running now or starting
within 7 days, and the silences in force, each naming its project and source; in the reader's
scope, with no secret, in the same number of queries whatever their number."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app.models import MaintenanceWindow, Membership, Silence
from tests import demo, factories

pytestmark = pytest.mark.django_db
TOKEN = "read-token-for-tests-0123456789"


def read(client: Client) -> dict[str, Any]:
    response = client.get(reverse("status-json"), HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def once(name: str, starts_in: timedelta, hours: float = 1, **matchers: object) -> MaintenanceWindow:
    now = timezone.now()
    window = MaintenanceWindow(
        name=name, starts_at=now + starts_in, ends_at=now + starts_in + timedelta(hours=hours), **matchers
    )
    window.derive_owner()
    window.save()
    return window


def silence(hours: float = 2, **fields: object) -> Silence:
    now = timezone.now()
    made = Silence(
        starts_at=now - timedelta(minutes=5),
        ends_at=now + timedelta(hours=hours),
        created_by=User.objects.filter(username="alice").first() or factories.staff("alice"),
        comment="deploy",
        **fields,
    )
    made.derive_owner()
    made.save()
    return made


@pytest.fixture
def frozen():
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False):
        yield timezone.now()


def test_windows_ahead_and_running_and_active_silences_are_listed_with_what_they_cover(client, settings, frozen):
    settings.STATUS_API_TOKEN = TOKEN
    client_a = factories.project("Client A")
    site = factories.site(project=client_a)
    once("Database upgrade", timedelta(hours=2), site=site)
    once("Too far ahead", timedelta(days=8), site=site)
    once("Over already", -timedelta(hours=3), project=client_a)
    weekly = MaintenanceWindow(
        name="Nightly backups",
        repeat="weekly",
        weekdays=list(range(7)),
        start_time=time(0, 0),
        duration=timedelta(hours=24),
        time_zone="Europe/Berlin",
        project=client_a,
    )  # every day, all day: running now
    weekly.derive_owner()
    weekly.save()
    silence(site=site, provider="stripe")
    ended = silence(site=site)
    Silence.objects.filter(pk=ended.pk).update(ended_early_at=frozen - timedelta(minutes=1))
    body = read(client)
    assert [(window["name"], window["active"]) for window in body["maintenance"]] == [
        ("Nightly backups", True),
        ("Database upgrade", False),
    ]
    backups, upgrade = body["maintenance"]
    assert len(backups["occurrences"]) == 8, "today's, running, and the next 7 days'"
    assert backups["source"] is None and backups["time_zone"] == "Europe/Berlin"
    assert backups["project"] == {"name": "Client A", "url": f"http://testserver/projects/{client_a.pk}/"}
    assert upgrade["occurrences"] == [
        {
            "starts_at": (frozen + timedelta(hours=2)).isoformat(),
            "ends_at": (frozen + timedelta(hours=3)).isoformat(),
        }
    ]
    assert upgrade["source"] == {"kind": "website", "name": "Acme Store", "url": f"http://testserver/sites/{site.pk}/"}
    assert upgrade["project"] is None and upgrade["words"] == "Acme Store"
    (active,) = body["silences"]
    assert active == {
        "starts_at": (frozen - timedelta(minutes=5)).isoformat(),
        "ends_at": (frozen + timedelta(hours=2)).isoformat(),
        "provider": "stripe",
        "change_kind": None,
        "created_by": "alice",
        "comment": "deploy",
        "project": None,
        "source": {"kind": "website", "name": "Acme Store", "url": f"http://testserver/sites/{site.pk}/"},
        "words": "Acme Store (stripe)",
    }
    assert demo.DATAFAST_TOKEN.reveal() not in str(body)


def test_a_member_reads_only_their_projects_windows_and_silences(client, frozen):
    client_a, client_b = factories.project("Client A"), factories.project("Client B")
    site_a = factories.site(project=client_a)
    site_b = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books", project=client_b)
    once("A's upgrade", timedelta(hours=2), site=site_a)
    once("B's upgrade", timedelta(hours=2), site=site_b)
    once("Everything", timedelta(hours=2))  # staff's: no project
    silence(site=site_a)
    silence(project=client_b)
    member = factories.viewer("member")
    Membership.objects.create(project=client_a, user=member)
    client.force_login(member)
    body = client.get(reverse("status-json")).json()
    assert [window["name"] for window in body["maintenance"]] == ["A's upgrade"]
    assert [each["words"] for each in body["silences"]] == ["Acme Store"]


def test_the_lists_cost_the_same_queries_for_2_and_20_rules(client, settings, frozen):
    settings.STATUS_API_TOKEN = TOKEN
    client_a = factories.project("Client A")
    site = factories.site(project=client_a)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            read(client)
        return len(captured)

    once("Upgrade 0", timedelta(hours=1), site=site)
    silence(site=site)
    few = queries()
    for number in range(1, 10):
        once(f"Upgrade {number}", timedelta(hours=number), project=client_a)
        silence(project=client_a, hours=number)
    assert len(read(client)["maintenance"]) == 10 and len(read(client)["silences"]) == 10
    assert queries() == few
