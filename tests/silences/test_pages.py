"""Pages show maintenance windows ahead ("Maintenance in 2 h …") and while they run ("In
maintenance until …"), in the reader's own time zone: on a source's page and on its project's."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from integrations_app.models import MaintenanceWindow
from tests import factories

pytestmark = pytest.mark.django_db
UTC = ZoneInfo("UTC")
NOW = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)  # 05:00 in New York (EST)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def in_new_york(clock, staff_client):
    response = staff_client.post(reverse("time-zone"), {"time_zone": "America/New_York"})
    assert response.status_code == 302
    return staff_client


def window(name: str, starts: datetime, hours: float, **matchers: object) -> MaintenanceWindow:
    made = MaintenanceWindow(name=name, starts_at=starts, ends_at=starts + timedelta(hours=hours), **matchers)
    made.derive_owner()
    made.save()
    return made


def mutes_section(page: str) -> str:
    return page[page.index('id="mutes-section"') :].split("</section>", maxsplit=1)[0]


def test_a_source_page_says_maintenance_ahead_then_while_it_runs_in_the_readers_zone(clock, in_new_york):
    site = factories.site()
    window("Database upgrade", NOW + timedelta(hours=2), 1, site=site)
    ahead = mutes_section(in_new_york.get(site.get_absolute_url()).content.decode())
    assert "Maintenance in 2 h 0 min (07:00 EST)" in ahead
    assert "Database upgrade" in ahead
    clock.move_to(NOW + timedelta(hours=2, minutes=10))
    running = mutes_section(in_new_york.get(site.get_absolute_url()).content.decode())
    assert "In maintenance until 08:00 EST (in 50 min)" in running


def test_a_window_on_another_day_names_the_day(in_new_york):
    site = factories.site()
    window("Weekend move", NOW + timedelta(days=3), 4, site=site)
    ahead = mutes_section(in_new_york.get(site.get_absolute_url()).content.decode())
    assert "Maintenance in 3 days (Fri 15 Jan 05:00 EST)" in ahead


def test_the_project_page_shows_the_projects_windows(in_new_york):
    client_a = factories.project("Client A")
    site = factories.site(project=client_a)
    window("Client A's freeze", NOW + timedelta(hours=2), 1, project=client_a)
    window("Only the website", NOW + timedelta(hours=2), 1, site=site)
    page = mutes_section(in_new_york.get(reverse("project-detail", args=[client_a.pk])).content.decode())
    assert "Maintenance in 2 h 0 min (07:00 EST)" in page and "Client A&#x27;s freeze" in page
    assert "Only the website" not in page, "the website's own window is on the website's page"
