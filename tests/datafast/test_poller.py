from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from integrations_app.models import Health, PollAttempt, ProviderState, Snapshot, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_site

pytestmark = pytest.mark.django_db
PATH = "/api/v1/admin/websites/"


def connected(site, provider: str) -> bool:
    return ProviderState.objects.get(site=site, provider=provider).connected


def alerts() -> list[StatusChange]:
    return list(StatusChange.objects.filter(notify=True).order_by("at", "id"))


def test_the_first_poll_records_state_without_alerting(sandbox):
    site = factories.site()
    outcome = poll_site(site.pk)
    site.refresh_from_db()
    assert outcome.ok
    assert site.health == Health.OK
    assert site.currency == "USD"
    assert site.paddle_expiry_state == "expiring"
    assert ProviderState.objects.filter(site=site).count() == 6
    assert connected(site, "stripe") and not connected(site, "shopify")
    assert PollAttempt.objects.get(site=site).ok
    assert Snapshot.objects.filter(site=site).count() == 1
    assert alerts() == []


def test_a_provider_going_off_alerts_and_coming_back_recovers(sandbox):
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(site.pk)
    assert not connected(site, "stripe")
    (down,) = alerts()
    assert (down.kind, down.severity, down.provider, down.old, down.new) == (
        ChangeKind.PROVIDER,
        Severity.PROBLEM,
        "stripe",
        "connected",
        "not connected",
    )
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
    poll_site(site.pk)
    assert [change.severity for change in alerts()] == [Severity.PROBLEM, Severity.RECOVERY]


def test_a_provider_connected_for_the_first_time_is_recorded_without_alert(sandbox):
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "shopify", True)
    poll_site(site.pk)
    change = StatusChange.objects.get(kind=ChangeKind.PROVIDER)
    assert (change.severity, change.notify) == (Severity.INFO, False)


def test_the_same_answer_again_adds_no_snapshot_and_a_new_one_does(sandbox):
    site = factories.site()
    poll_site(site.pk)
    first = Snapshot.objects.get(site=site)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        poll_site(site.pk)
    assert list(Snapshot.objects.filter(site=site)) == [first]
    assert PollAttempt.objects.filter(site=site, ok=True).count() == 2
    sandbox.state.set_currency(demo.ACME_STORE, "EUR")
    poll_site(site.pk)
    latest = present(Snapshot.objects.filter(site=site).first())
    assert latest.pk != first.pk
    assert latest.payload["currency"] == "EUR"


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "status", "status": 500}, "server_error"),
        ({"kind": "status", "status": 502}, "server_error"),
        ({"kind": "status", "status": 503, "retry_after": 1}, "server_error"),
        ({"kind": "status", "status": 429, "retry_after": 1}, "rate_limited"),
        ({"kind": "malformed"}, "schema"),
        ({"kind": "missing_field", "field": "data.0.stripe.connected"}, "schema"),
        ({"kind": "empty_data"}, "schema"),
        ({"kind": "drop"}, "connection"),
        ({"kind": "trickle", "seconds": 30}, "timeout"),
    ],
)
def test_a_poll_error_keeps_the_last_good_state_and_alerts_nobody(sandbox, settings, fault, kind):
    settings.UPSTREAM_BODY_TIMEOUT = 1
    settings.UPSTREAM_RETRY_AFTER_MAX = 1
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)  # would be a disconnect, if we heard it
    sandbox.state.faults.add(PATH, **fault)
    outcome = poll_site(site.pk)
    site.refresh_from_db()
    assert not outcome.ok
    assert connected(site, "stripe")
    assert site.health == Health.OK
    assert site.last_error_kind == kind
    attempt = present(PollAttempt.objects.filter(site=site).first())
    assert (attempt.ok, attempt.error_kind) == (False, kind)
    assert alerts() == []


def test_a_rejected_token_alerts_and_recovers(sandbox):
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), [])
    poll_site(site.pk)
    site.refresh_from_db()
    assert (site.health, site.last_error_status) == (Health.CREDENTIAL_REJECTED, 403)
    assert connected(site, "stripe"), "a credential problem is not a disconnect"
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), ["settings:read"])
    poll_site(site.pk)
    assert [(c.kind, c.severity, c.new) for c in alerts()] == [
        (ChangeKind.SOURCE_HEALTH, Severity.PROBLEM, Health.CREDENTIAL_REJECTED),
        (ChangeKind.SOURCE_HEALTH, Severity.RECOVERY, Health.OK),
    ]


def test_a_website_gone_from_datafast_alerts(sandbox):
    site = factories.site()
    poll_site(site.pk)
    sandbox.state.remove_website(demo.ACME_STORE)
    poll_site(site.pk)
    site.refresh_from_db()
    assert site.health == Health.NOT_FOUND
    assert [c.new for c in alerts()] == [Health.NOT_FOUND]


def test_a_new_site_whose_first_poll_is_refused_does_not_alert(sandbox):
    site = factories.site(website_id=demo.NIMBUS_LABS, name="Nimbus")
    poll_site(site.pk)
    site.refresh_from_db()
    assert site.health == Health.CREDENTIAL_REJECTED
    assert alerts() == []


def test_polls_failing_for_more_than_three_intervals_alert_once_then_recover(sandbox, settings):
    site = factories.site(poll_interval_seconds=60)
    poll_site(site.pk)
    sandbox.state.faults.add(PATH, kind="status", status=500)
    settings.UPSTREAM_RETRIES = 0
    start = timezone.now()
    for minute in range(6):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=1)):
            poll_site(site.pk)
    site.refresh_from_db()
    assert site.health == Health.FAILING
    assert [c.new for c in alerts()] == [Health.FAILING]
    sandbox.state.faults.clear()
    with time_machine.travel(start + timedelta(minutes=7)):
        poll_site(site.pk)
    assert [c.severity for c in alerts()] == [Severity.PROBLEM, Severity.RECOVERY]


def test_paddle_expiry_alerts_once_when_near_once_when_expired_and_on_renewal(sandbox):
    now = timezone.now()
    sandbox.state.set_paddle_expiry(demo.ACME_STORE, now + timedelta(days=20))
    site = factories.site()
    poll_site(site.pk)
    with time_machine.travel(now + timedelta(days=7)):
        poll_site(site.pk)
        poll_site(site.pk)
    with time_machine.travel(now + timedelta(days=21)):
        poll_site(site.pk)
        sandbox.state.set_paddle_expiry(demo.ACME_STORE, now + timedelta(days=400))
        poll_site(site.pk)
    assert [(c.kind, c.new, c.severity) for c in alerts()] == [
        (ChangeKind.PADDLE_EXPIRY, "expiring", Severity.PROBLEM),
        (ChangeKind.PADDLE_EXPIRY, "expired", Severity.PROBLEM),
        (ChangeKind.PADDLE_EXPIRY, "ok", Severity.RECOVERY),
    ]


def test_a_flapping_provider_gets_one_notice_then_one_when_it_settles(sandbox):
    site = factories.site()
    poll_site(site.pk)
    start = timezone.now()
    for step in range(8):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", step % 2 == 1)
        with time_machine.travel(start + timedelta(minutes=5 * (step + 1))):
            poll_site(site.pk)
    notices = [(c.kind, c.severity) for c in alerts()]
    # down, up, down are alerted; the 4th change starts the flapping notice; the rest are silent.
    assert notices == [
        (ChangeKind.PROVIDER, Severity.PROBLEM),
        (ChangeKind.PROVIDER, Severity.RECOVERY),
        (ChangeKind.PROVIDER, Severity.PROBLEM),
        (ChangeKind.FLAPPING, Severity.NOTICE),
    ]
    assert StatusChange.objects.filter(kind=ChangeKind.PROVIDER).count() == 8
    with time_machine.travel(start + timedelta(hours=3)):
        poll_site(site.pk)
    settled = alerts()[-1]
    assert (settled.kind, settled.new) == (ChangeKind.FLAPPING, "connected")
    assert ProviderState.objects.get(site=site, provider="stripe").flapping_since is None


def test_a_long_upstream_error_message_still_makes_the_failing_alert(sandbox, settings):
    """The "failing" reason quotes the error: it must fit its column (PostgreSQL refuses longer)."""
    site = factories.site(poll_interval_seconds=60)
    poll_site(site.pk)
    body = {"status": "error", "error": {"code": "OVERLOADED", "message": "é" * 400}}
    sandbox.state.faults.add(PATH, kind="status", status=503, body=body)
    settings.UPSTREAM_RETRIES = 0
    start = timezone.now()
    for minute in range(5):
        with time_machine.travel(start + timedelta(minutes=minute, seconds=1)):
            poll_site(site.pk)
    site.refresh_from_db()
    (failing,) = alerts()
    assert failing.new == Health.FAILING
    assert len(failing.reason) <= present(StatusChange._meta.get_field("reason").max_length)
    assert failing.reason.startswith("no good answer since then: server error (HTTP 503): éé")
    assert len(site.last_error_message) <= 300
