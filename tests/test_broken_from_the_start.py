"""Sources broken from the start alert (after a grace of one confirming poll); the web forms check
what they save, as the commands do; a secret saved twice is named."""

from __future__ import annotations

from datetime import timedelta
from html import unescape
from typing import Any

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import ChargebackStopKey, DataFastSite, Health, StatusChange
from integrations_app.upstream.secret import Secret
from tests import demo, factories

pytestmark = pytest.mark.django_db


def notified() -> list[StatusChange]:
    return list(StatusChange.objects.filter(notify=True).order_by("at", "pk"))


@pytest.mark.parametrize(
    ("website_id", "token", "verdict", "subject"),
    [
        (demo.NIMBUS_LABS, demo.DATAFAST_TOKEN, Health.CREDENTIAL_REJECTED, "DataFast refused the token for Broken"),
        (demo.UNKNOWN_WEBSITE, demo.DATAFAST_TOKEN, Health.NOT_FOUND, "DataFast says website Broken does not exist"),
        (demo.ACME_STORE, Secret("dft_not_a_real_token_0000"), Health.CREDENTIAL_REJECTED, "refused the token"),
    ],
)
@pytest.mark.usefixtures("sandbox")
def test_a_website_broken_from_its_first_poll_alerts_once_when_the_next_poll_confirms_it(
    mailoutbox, website_id, token, verdict, subject
):
    site = factories.site(website_id=website_id, name="Broken", account=factories.account(token=token, name="T"))
    poll_site(site.pk)
    site.refresh_from_db()
    assert site.health == verdict
    assert notified() == [], "the first answer is recorded quietly: whoever added it just saw it"
    poll_site(site.pk)  # "poll now", seconds later: not yet the confirming poll
    assert notified() == []
    with later(site.interval):
        poll_site(site.pk)
    with later(2 * site.interval):
        poll_site(site.pk)
    (change,) = notified()
    assert (change.severity, change.new) == ("problem", verdict)
    assert change.reason.startswith("since the first poll")
    assert send_pending_alerts(wait=False).sent == 1
    (message,) = mailoutbox
    assert subject in message.subject


def test_a_key_rejected_from_the_start_alerts_and_recovers(sandbox, mailoutbox):
    key = factories.key(secret=Secret("cbs_revoked_from_the_start_123"), name="Bad key")
    poll_key(key.pk)
    with later(key.interval):
        poll_key(key.pk)
    assert [change.severity for change in notified()] == ["problem"]
    key.set_secret(demo.PARTNER_KEY.reveal())
    key.save(update_fields=["secret", "secret_hint"])
    with later(2 * key.interval):
        poll_key(key.pk)
    assert [change.severity for change in notified()] == ["problem", "recovery"]


def test_a_verdict_fixed_before_the_next_poll_sends_nothing(sandbox):
    site = factories.site(website_id=demo.UNKNOWN_WEBSITE, name="Typo")
    poll_site(site.pk)
    DataFastSite.objects.filter(pk=site.pk).update(website_id=demo.ACME_STORE)
    poll_site(site.pk)
    assert notified() == []
    assert DataFastSite.objects.get(pk=site.pk).health == Health.OK


def test_a_first_verdict_followed_only_by_timeouts_still_ends_in_an_alert(sandbox, settings):
    """Never silent: a source whose first answer was a 401 and that has not answered since fails
    like any other source after POLL_FAILING_AFTER_INTERVALS."""
    site = factories.site(website_id=demo.NIMBUS_LABS, name="Nimbus")
    poll_site(site.pk)
    settings.DATAFAST_BASE_URL = "http://127.0.0.1:9"  # nothing answers from now on
    for step in range(1, settings.POLL_FAILING_AFTER_INTERVALS + 2):
        with later(step * site.interval):
            poll_site(site.pk)
    (change,) = notified()
    assert (change.severity, change.new) == ("problem", Health.FAILING)


def later(delta: timedelta) -> Any:
    return time_machine.travel(timezone.now() + delta + timedelta(seconds=1), tick=False)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_website_form_checks_the_credential_on_save(staff_client, sandbox):
    account = factories.account()
    response = staff_client.post(
        reverse("site-create"),
        {"account": account.pk, "name": "Nimbus", "website_id": demo.NIMBUS_LABS, "enabled": "on"},
    )
    assert DataFastSite.objects.filter(name="Nimbus").exists()
    said = " ".join(messages_of(response))
    assert "Saved the website “Nimbus”" in said
    assert "Saved, but the check failed: DataFast refused the credential (HTTP 403)" in said
    response = staff_client.post(
        reverse("site-create"), {"account": account.pk, "name": "Acme", "website_id": demo.ACME_STORE, "enabled": "on"}
    )
    assert "DataFast accepted the token and the website is reachable" in " ".join(messages_of(response))


def test_a_save_still_happens_when_the_api_is_down_and_says_so(staff_client, settings):
    settings.UPSTREAM_RETRIES = 0
    response = staff_client.post(
        reverse("key-create"),
        {"name": "Offline", "level": "partner", "secret": "cbs_offline_key_0123456789", "enabled": "on"},
    )
    assert ChargebackStopKey.objects.filter(name="Offline").exists()
    said = " ".join(messages_of(response))
    assert "Saved, but the check failed: ChargebackStop did not answer properly" in said


def test_accounts_have_a_test_connection(staff_client, sandbox):
    account = factories.account()
    factories.site(account=account)
    response = staff_client.post(reverse("account-test", args=[account.pk]), follow=True)
    assert "DataFast accepted the token for 1 of its 1 websites" in response.content.decode()
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    response = staff_client.post(reverse("account-test", args=[account.pk]), follow=True)
    assert "DataFast refused the credential (HTTP 401)" in response.content.decode()


def test_saving_the_same_secret_under_a_second_name_warns(staff_client, sandbox):
    factories.key(name="Northwind")
    page = staff_client.post(
        reverse("key-create"),
        {"name": "Northwind again", "level": "partner", "secret": demo.PARTNER_KEY.reveal(), "enabled": "on"},
        follow=True,
    ).content.decode()
    assert "The same secret is already saved as the ChargebackStop key “Northwind”" in unescape(page)
    assert "polled twice" in page
    page = staff_client.post(
        reverse("account-create"), {"name": "Fresh", "secret": "dft_a_fresh_token_0123456789"}, follow=True
    ).content.decode()
    assert "Saved the DataFast account “Fresh”" in unescape(page)
    assert "same secret" not in page
