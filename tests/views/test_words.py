"""Words and small things: what pages, emails and errors say, in plain words, once."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.alerts.describe import summary
from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Alert, AuditEntry, Integration, Organisation, StatusChange
from integrations_app.models.history import ChangeKind
from tests import demo, factories
from tests.test_security import manage, production_env

pytestmark = pytest.mark.django_db


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_website_page_says_every_60_s_and_in_4_days_once(viewer_client, sandbox):
    site = factories.site(poll_interval_seconds=60)
    poll_site(site.pk)
    page = text_of(viewer_client.get(site.get_absolute_url()).content.decode())
    assert "every 60 s" in page and "0:01:00" not in page
    assert re.search(r"in \d days", page)
    assert "days left" not in page


def test_stale_since_is_the_moment_it_went_stale(viewer_client, sandbox):
    site = factories.site(poll_interval_seconds=60)
    poll_site(site.pk)
    last_good = timezone.now() - timedelta(minutes=7)
    went_stale = last_good + timedelta(seconds=120)  # two intervals later
    site.refresh_from_db()
    site.last_success_at, site.stale_after = last_good, went_stale
    site.save()  # as a poll's save: the stored problem follows
    page = viewer_client.get(site.get_absolute_url()).content.decode()
    assert "Stale since" in page
    assert f'datetime="{went_stale.isoformat()}"' in page.split("Stale since", 1)[1][:300]


def test_a_first_poll_is_not_polled_normally_again(sandbox):
    site = factories.site()
    poll_site(site.pk)
    first = StatusChange.objects.get(site=site, kind=ChangeKind.SOURCE_HEALTH)
    assert "again" not in summary(first)
    assert summary(first) == "Acme Store answered its first poll"


def test_a_change_outside_the_dashboard_says_so_once(viewer_client, sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
    poll_key(key.pk)
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    page = text_of(viewer_client.get(integration.get_absolute_url()).content.decode())
    history = page.split("History", 1)[1].split("Changes made in the dashboard", 1)[0]
    assert history.count("outside the dashboard") == 1, history


def test_emails_name_the_zone_once(sandbox, settings):
    settings.TIME_ZONE = "UTC"
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(site.pk)
    send_pending_alerts(wait=False)
    (message,) = mail.outbox
    assert "UTC (UTC)" not in message.body
    assert "UTC" in message.body


def test_alert_subjects_and_audit_targets_are_links_and_actions_are_words(viewer_client, staff_client, sandbox):
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(site.pk)
    send_pending_alerts(wait=False)
    alert = Alert.objects.get()
    page = viewer_client.get(reverse("alerts")).content.decode()
    assert re.search(rf'<a href="{site.get_absolute_url()}"[^>]*>(<bdi>)?{re.escape(alert.subject)}(</bdi>)?</a>', page)
    staff_client.post(reverse("site-poll", args=[site.pk]))
    assert AuditEntry.objects.filter(action="poll.now").exists()
    page = staff_client.get(reverse("audit")).content.decode()
    assert "poll.now" not in text_of(page)
    assert "Poll now" in text_of(page)
    assert f'href="{site.get_absolute_url()}"' in page


def test_the_merchant_id_error_names_the_ids_that_are_not_known(staff_client, sandbox):
    key = factories.key()
    poll_key(key.pk)
    data = {
        "key": key.pk,
        "organisation_id": demo.ACME_ORG,
        "name": "Acme Orders EU",
        "status": "ENABLED",
        "merchant_ids": "mrch_acme_us mrch_bluebird_main",
        "submission": str(uuid.uuid4()),
    }
    response = staff_client.post(reverse("integration-create"), data)
    (message,) = response.context["form"].errors["merchant_ids"]
    assert "mrch_bluebird_main" in message and "mrch_acme_us" not in message


def test_enter_the_api_key_keeps_its_capitals(staff_client):
    response = staff_client.post(reverse("key-create"), {"name": "K", "level": "partner", "secret": ""})
    assert "Enter the API key." in response.content.decode()


def test_error_pages_have_the_navigation_and_the_reason(viewer_client, settings):
    settings.DEBUG = False
    response = viewer_client.get(reverse("credentials"))
    assert response.status_code == 403
    page = response.content.decode()
    assert 'aria-label="Main"' in page and "Only staff may" in page
    response = viewer_client.get("/sites/999999/")
    assert response.status_code == 404
    assert 'aria-label="Main"' in response.content.decode() and "not found" in response.content.decode().lower()


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico", follow=True)
    assert response.status_code == 200


def test_logout_confirms(viewer_client):
    response = viewer_client.post(reverse("logout"), follow=True)
    assert "You are logged out" in response.content.decode()


def test_the_organisation_and_integration_pages_have_timelines_with_zoom(viewer_client, sandbox):
    key = factories.key()
    poll_key(key.pk)
    organisation = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    for url in (organisation.get_absolute_url(), integration.get_absolute_url()):
        for window in ("24h", "7d", "30d"):
            page = viewer_client.get(f"{url}?range={window}").content.decode()
            assert 'class="timeline"' in page, url
            assert 'aria-current="true"' in page
            assert 'class="swatch up"' in page
            assert 'class="timeline-axis"' in page


def test_site_url_defaults_to_the_address_make_run_prints():
    env = {key: value for key, value in production_env().items() if key not in ("SITE_URL", "WEB_HOST", "WEB_PORT")}
    printed = "from django.conf import settings; print(settings.SITE_URL)"
    assert manage("shell", "--no-imports", "-c", printed, env=env).stdout.strip() == "http://127.0.0.1:8000"
    env["WEB_PORT"] = "8123"
    assert manage("shell", "--no-imports", "-c", printed, env=env).stdout.strip() == "http://127.0.0.1:8123"
