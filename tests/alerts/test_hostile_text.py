"""Bad text from upstream or the admin: line breaks, direction overrides and other invisible characters.

Typed names are refused with one rule everywhere (pages, admin); names from upstream are stored as
they come, cleaned into one line for email subjects and isolated with `<bdi>` on pages.
"""

from __future__ import annotations

import pytest
from django.contrib import admin as django_admin
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.urls import reverse

from integrations_app.alerts.delivery import MAX_ATTEMPTS, due_alerts, send_pending_alerts
from integrations_app.chargebackstop.forms import RenameIntegrationForm
from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.forms import DataFastSiteForm
from integrations_app.models import Alert, Integration, Organisation
from integrations_app.text import one_line
from tests import demo, factories

pytestmark = pytest.mark.django_db(transaction=True)
RIGHT_TO_LEFT_OVERRIDE = "\u202e"
HOSTILE_NAME = f"Acme\r\nBcc: thief@example.com\tOrders {RIGHT_TO_LEFT_OVERRIDE}LIPA"


def test_one_line_drops_control_and_direction_characters_and_collapses_whitespace():
    assert one_line(HOSTILE_NAME) == "Acme Bcc: thief@example.com Orders LIPA"
    assert one_line("  a\u2028b\u200b\x00c \u2066d\u2069  ") == "a bc d"


def test_an_upstream_name_with_a_line_break_still_alerts_with_a_clean_subject(sandbox, smtp_sink):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.rename_integration(demo.ACME_ORDERS, HOSTILE_NAME)
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
    poll_key(key.pk)
    assert Integration.objects.get(integration_id=demo.ACME_ORDERS).name == HOSTILE_NAME  # stored as it came
    report = send_pending_alerts(wait=False)
    assert (report.sent, report.failed) == (1, 0)
    (message,) = smtp_sink.messages
    assert (
        str(message["Subject"])
        .strip()
        .startswith("[Paystatus] Integration “Acme Bcc: thief@example.com Orders LIPA” in ")
    )
    assert message["Bcc"] is None
    assert Alert.objects.get().status == Alert.Status.SENT


def test_a_header_the_mail_library_refuses_fails_the_alert_for_good(sandbox, smtp_sink, settings):
    settings.ALERT_RECIPIENTS = ["ops@example.com\nBcc: thief@example.com"]
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
    poll_key(key.pk)
    assert send_pending_alerts(wait=False).failed == 1
    alert = Alert.objects.get()
    assert (alert.status, alert.attempts) == (Alert.Status.FAILED, MAX_ATTEMPTS)  # never retried
    assert alert.error.startswith("BadHeaderError")
    assert due_alerts(alert.next_attempt_at) == []
    assert smtp_sink.messages == []


@pytest.mark.parametrize("name", ["North\r\nwind", f"North{RIGHT_TO_LEFT_OVERRIDE}wind", "North\u200bwind"])
def test_a_key_name_saved_in_the_admin_follows_the_pages_rules(admin_client, name):
    key = factories.key()
    data = {
        "name": name,
        "level": "partner",
        "enabled": "on",
        "poll_interval_seconds": "",
        "secret": "",
        "keyorganisation_set-TOTAL_FORMS": "0",
        "keyorganisation_set-INITIAL_FORMS": "0",
    }
    response = admin_client.post(reverse("admin:integrations_app_chargebackstopkey_change", args=[key.pk]), data)
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    key.refresh_from_db()
    assert key.name == "Northwind"


def test_a_key_name_taken_ignoring_case_is_refused_in_the_admin_too(admin_client):
    factories.key(name="Northwind")
    other = factories.key(name="Other", secret=demo.ORGANISATION_KEY, level="organisation")
    data = {
        "name": "NORTHWIND",
        "level": "organisation",
        "enabled": "on",
        "poll_interval_seconds": "",
        "secret": "",
        "keyorganisation_set-TOTAL_FORMS": "0",
        "keyorganisation_set-INITIAL_FORMS": "0",
    }
    response = admin_client.post(reverse("admin:integrations_app_chargebackstopkey_change", args=[other.pk]), data)
    assert response.status_code == 200
    assert "already called" in str(response.context["adminform"].form.errors["name"])


def test_names_typed_in_the_admin_follow_the_pages_rules(rf):
    request = rf.get("/")
    request.user = User.objects.create_superuser("root", password="root-password-1")
    site = factories.site()
    integration = Integration.objects.create(
        integration_id="int_1", organisation=Organisation.objects.create(organisation_id="org_1"), name="Orders"
    )
    for obj, field in ((site, "name"), (integration, "name"), (integration.organisation, "label")):
        form_class = django_admin.site._registry[type(obj)].get_form(request, obj)
        data = {**model_to_dict(obj), field: f"Acme{RIGHT_TO_LEFT_OVERRIDE} Store"}
        form = form_class(data, instance=obj)
        assert not form.is_valid()
        assert "invisible" in str(form.errors.get(field)), (type(obj), form.errors)


@pytest.mark.parametrize("character", ["\t", "\n", "\u2028", RIGHT_TO_LEFT_OVERRIDE, "\u200b", "\u2066"])
def test_typed_names_follow_one_rule_in_every_form(character):
    name = f"Acme{character}Orders"
    rename = RenameIntegrationForm({"name": name}, current_name="Acme Orders API")
    site = DataFastSiteForm({"name": name, "website_id": demo.ACME_STORE, "account": factories.account().pk})
    assert not rename.is_valid() and not site.is_valid()
    assert rename.errors["name"] == site.errors["name"]


def test_names_from_upstream_are_isolated_on_pages(sandbox, client):
    client.force_login(factories.viewer())
    key = factories.key()
    sandbox.state.rename_integration(demo.ACME_ORDERS, f"{RIGHT_TO_LEFT_OVERRIDE}sredro emca")
    poll_key(key.pk)
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    isolated = f"<bdi>{RIGHT_TO_LEFT_OVERRIDE}sredro emca</bdi>"
    for url in (integration.get_absolute_url(), integration.organisation.get_absolute_url()):
        page = client.get(url).content.decode()
        assert isolated in page, url
        assert page.count(RIGHT_TO_LEFT_OVERRIDE) == page.count(isolated), url
