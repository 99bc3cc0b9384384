"""Two polls of one source at once (Redis down, a lease outlived): every transition is recorded once.

Real overlap: two threads, each with its own database connection, poll the same source through the
sandbox, which holds every answer for a moment so that both polls load the source before either
writes. Whichever records a change first wins; the other records its attempt and nothing else.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Health, Integration, ProviderState, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.concurrency import twice_at_once

pytestmark = pytest.mark.django_db(transaction=True)
HOLD_SECONDS = 1.0


def alerts() -> list[tuple[str, str, str]]:
    return list(StatusChange.objects.filter(notify=True).order_by("at").values_list("kind", "severity", "new"))


def test_two_overlapping_polls_of_a_website_send_one_recovery_and_one_disconnect(sandbox):
    site = factories.site()
    poll_site(site.pk)
    # It had been failing, with the admins told; and Stripe goes off as it comes back.
    type(site).objects.filter(pk=site.pk).update(
        health=Health.FAILING, health_alert_open=True, failing_since=timezone.now() - timedelta(hours=1)
    )
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    sandbox.state.latency = HOLD_SECONDS
    twice_at_once(poll_site, site.pk)
    assert sorted(alerts()) == [
        (ChangeKind.PROVIDER, Severity.PROBLEM, "not connected"),
        (ChangeKind.SOURCE_HEALTH, Severity.RECOVERY, Health.OK),
    ]
    site.refresh_from_db()
    assert (site.health, site.health_alert_open) == (Health.OK, False)
    assert ProviderState.objects.get(site=site, provider="stripe").alert_open
    assert site.attempts.count() == 3  # both polls did happen


def test_two_overlapping_polls_of_a_key_record_one_disable_and_one_rename(sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
    sandbox.state.rename_integration(demo.ACME_ORDERS, "Acme Orders (EU)")
    sandbox.state.latency = HOLD_SECONDS
    twice_at_once(poll_key, key.pk)
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    changes = list(StatusChange.objects.filter(integration=integration).values_list("kind", "severity", "new"))
    assert sorted(changes) == [
        (ChangeKind.INTEGRATION_NAME, Severity.INFO, "Acme Orders (EU)"),
        (ChangeKind.INTEGRATION_STATUS, Severity.PROBLEM, "DISABLED"),
    ]
    assert (integration.status, integration.alert_open, integration.name) == ("DISABLED", True, "Acme Orders (EU)")


def test_two_overlapping_first_polls_of_a_key_both_finish(sandbox):
    key = factories.key()
    sandbox.state.latency = HOLD_SECONDS
    twice_at_once(poll_key, key.pk)
    assert key.attempts.filter(ok=True).count() == 2
    assert Integration.objects.filter(integration_id=demo.ACME_ORDERS).count() == 1
