from __future__ import annotations

import pytest

from integrations_app.models import Health, Integration, KeyOrganisation, Organisation, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key

pytestmark = pytest.mark.django_db
PATH = "/v1/integrations/"


def alerts() -> list[StatusChange]:
    return list(StatusChange.objects.filter(notify=True).order_by("at", "id"))


def status(integration_id: str) -> str:
    return Integration.objects.get(integration_id=integration_id).status


def test_the_first_poll_learns_organisations_merchants_and_integrations_silently(sandbox):
    key = factories.key()
    outcome = poll_key(key.pk)
    assert outcome.ok
    assert Integration.objects.count() == len(sandbox.state.integrations())
    assert set(Organisation.objects.values_list("organisation_id", flat=True)) == {
        demo.ACME_ORG,
        demo.BLUEBIRD_ORG,
        demo.CEDAR_ORG,
    }
    acme = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    assert {"mrch_acme_us", "mrch_acme_eu"} <= set(acme.merchant_ids)
    assert KeyOrganisation.objects.filter(key=key).count() == 3
    assert alerts() == []
    assert not StatusChange.objects.exclude(kind=ChangeKind.SOURCE_HEALTH).exists()


def test_an_integration_disabled_outside_the_dashboard_alerts_and_is_flagged(sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
    poll_key(key.pk)
    (change,) = alerts()
    assert (change.kind, change.severity, change.old, change.new) == (
        ChangeKind.INTEGRATION_STATUS,
        Severity.PROBLEM,
        "ENABLED",
        "DISABLED",
    )
    assert change.outside_dashboard
    sandbox.state.set_integration_status(demo.ACME_ORDERS, "ENABLED")
    poll_key(key.pk)
    assert [c.severity for c in alerts()] == [Severity.PROBLEM, Severity.RECOVERY]


def test_an_integration_missing_from_a_complete_listing_is_gone(sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.delete_integration(demo.ACME_STRIPE)
    poll_key(key.pk)
    assert status(demo.ACME_STRIPE) == "GONE"
    assert [(c.old, c.new, c.severity) for c in alerts()] == [("ENABLED", "GONE", Severity.PROBLEM)]


def test_an_incomplete_listing_never_declares_anything_gone(sandbox, settings):
    settings.CHARGEBACKSTOP_MAX_PAGES = 1
    settings.CHARGEBACKSTOP_PAGE_SIZE = 2
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.delete_integration(demo.ACME_STRIPE)
    poll_key(key.pk)
    assert not Integration.objects.filter(status="GONE").exists()
    assert alerts() == []


def test_a_rename_outside_the_dashboard_is_recorded_and_flagged_without_alert(sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.rename_integration(demo.ACME_ORDERS, "Acme Orders (EU)")
    poll_key(key.pk)
    change = StatusChange.objects.get(kind=ChangeKind.INTEGRATION_NAME)
    assert (change.old, change.new, change.outside_dashboard, change.notify) == (
        "Acme Orders API",
        "Acme Orders (EU)",
        True,
        False,
    )
    assert Integration.objects.get(integration_id=demo.ACME_ORDERS).name == "Acme Orders (EU)"


def test_a_new_integration_is_recorded_without_alert(sandbox):
    key = factories.key()
    poll_key(key.pk)
    new_id = sandbox.state.add_integration(demo.ACME_ORG, "Fresh", "CUSTOM_ORDERS", "ENABLED", ["mrch_acme_us"])
    poll_key(key.pk)
    assert status(new_id) == "ENABLED"
    assert present(StatusChange.objects.get(kind=ChangeKind.INTEGRATION_APPEARED).integration).integration_id == new_id
    assert alerts() == []


def test_a_revoked_key_alerts_and_keeps_the_integrations(sandbox):
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.revoke_key(demo.PARTNER_KEY.reveal())
    poll_key(key.pk)
    key.refresh_from_db()
    assert key.health == Health.CREDENTIAL_REJECTED
    assert not Integration.objects.filter(status="GONE").exists()
    assert [c.new for c in alerts()] == [Health.CREDENTIAL_REJECTED]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 500},
        {"kind": "status", "status": 429, "retry_after": 1},
        {"kind": "malformed"},
        {"kind": "missing_field", "field": "count"},
        {"kind": "drop"},
    ],
)
def test_a_listing_error_changes_nothing_and_alerts_nobody(sandbox, settings, fault):
    settings.UPSTREAM_RETRY_AFTER_MAX = 1
    key = factories.key()
    poll_key(key.pk)
    sandbox.state.delete_integration(demo.ACME_STRIPE)
    sandbox.state.faults.add(PATH, **fault)
    outcome = poll_key(key.pk)
    assert not outcome.ok
    assert status(demo.ACME_STRIPE) == "ENABLED"
    assert alerts() == []
