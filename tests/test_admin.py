"""The operators' admin: secrets are write-only there too, with the pages' checks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations_app.datafast.poller import poll_site
from integrations_app.models import DataFastAccount
from tests import demo, factories

pytestmark = pytest.mark.django_db


def test_an_account_is_added_with_a_write_only_token(admin_client):
    token = demo.DATAFAST_TOKEN.reveal()
    response = admin_client.post(
        reverse("admin:integrations_app_datafastaccount_add"), {"name": "Acme", "secret": token}
    )
    assert response.status_code == 302
    account = DataFastAccount.objects.get(name="Acme")
    assert account.secret == demo.DATAFAST_TOKEN
    page = admin_client.get(reverse("admin:integrations_app_datafastaccount_change", args=[account.pk]))
    assert token not in page.content.decode()
    assert account.secret_hint in page.content.decode()


def test_a_bad_token_is_refused_on_its_field(admin_client):
    response = admin_client.post(
        reverse("admin:integrations_app_datafastaccount_add"), {"name": "Acme", "secret": "not-a-token"}
    )
    assert response.status_code == 200
    assert "secret" in response.context["adminform"].form.errors
    assert not DataFastAccount.objects.exists()


def test_a_key_keeps_its_secret_when_the_field_is_left_blank(admin_client):
    key = factories.key()
    url = reverse("admin:integrations_app_chargebackstopkey_change", args=[key.pk])
    data = {
        "name": "Renamed",
        "level": "partner",
        "enabled": "on",
        "poll_interval_seconds": "",
        "secret": "",
        "keyorganisation_set-TOTAL_FORMS": "0",
        "keyorganisation_set-INITIAL_FORMS": "0",
    }
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    key.refresh_from_db()
    assert (key.name, key.secret) == ("Renamed", demo.PARTNER_KEY)


def test_the_admin_lists_show_the_status_from_the_one_status_function(admin_client, sandbox):
    site = factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books")
    poll_site(site.pk)
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "lemonsqueezy", False)
    poll_site(site.pk)
    html = admin_client.get(reverse("admin:integrations_app_datafastsite_changelist")).content.decode()
    assert "Lemon Squeezy disconnected" in html
    factories.key(name="Paused key", enabled=False)
    html = admin_client.get(reverse("admin:integrations_app_chargebackstopkey_changelist")).content.decode()
    assert "Paused" in html


def test_the_website_form_shows_the_scheduler_fields_read_only_at_the_bottom_with_zones(admin_client, sandbox):
    site = factories.site()
    poll_site(site.pk)
    page = admin_client.get(reverse("admin:integrations_app_datafastsite_change", args=[site.pk])).content.decode()
    assert 'name="next_poll_at' not in page, "the scheduler's field is not an input"
    assert page.index('name="poll_interval_seconds"') < page.index("Set by polling")
    assert page.index("Set by polling") < page.index("Next poll at")
    assert " UTC" in page.split("Set by polling", 1)[1]
