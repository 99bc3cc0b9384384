"""ChargebackStop listings that are hostile or partly broken: bad items, IDs that would aim a PATCH
elsewhere, a `count` that never ends, more merchant IDs than anyone should keep. The good items
still apply, the listing counts as incomplete (nothing is declared gone), the poll attempt names
what was wrong, and nothing grows without bound."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from integrations_app import upstreams
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.models import Integration, Organisation, PollAttempt, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key

pytestmark = pytest.mark.django_db
PATH = "/v1/integrations/"


def listing_with(sandbox: Any, *extra: dict[str, Any], **changed: dict[str, Any]) -> dict[str, Any]:
    """The sandbox's real listing, with some items changed (by ID) and extra items appended."""
    items = [{**item, **changed.get(item["id"], {})} for item in sandbox.state.integrations()]
    items += extra
    return {"items": items, "count": len(items)}


def bad_item(**fields: Any) -> dict[str, Any]:
    return {
        "id": "int_bad_one",
        "organisation_id": demo.ACME_ORG,
        "name": "Bad",
        "type": "CUSTOM_ORDERS",
        "status": "ENABLED",
        "merchant_ids": ["mrch_acme_us"],
        **fields,
    }


def serve(sandbox: Any, body: dict[str, Any]) -> None:
    sandbox.state.faults.add(PATH, kind="status", status=200, body=body, method="GET", times=1)


def last_attempt(key: Any) -> PollAttempt:
    return present(PollAttempt.objects.filter(key=key).order_by("-started_at", "-id").first())


@pytest.fixture
def key(sandbox: Any) -> Any:
    created = factories.key()
    assert poll_key(created.pk).ok
    return created


def test_one_bad_item_spoils_only_itself_and_a_real_disable_beside_it_is_seen(sandbox, key):
    serve(sandbox, listing_with(sandbox, bad_item(name="n" * 256), **{demo.ACME_ORDERS: {"status": "DISABLED"}}))
    sandbox.state.delete_integration(demo.ACME_STRIPE)  # gone from the next listing: must not be declared gone

    outcome = poll_key(key.pk)

    assert outcome.ok
    assert Integration.objects.get(integration_id=demo.ACME_ORDERS).status == "DISABLED"
    (change,) = StatusChange.objects.filter(notify=True)
    assert (change.kind, change.severity, change.new) == (ChangeKind.INTEGRATION_STATUS, Severity.PROBLEM, "DISABLED")
    assert not Integration.objects.filter(integration_id="int_bad_one").exists()
    attempt = last_attempt(key)
    assert attempt.ok
    assert "integration int_bad_one: 'name' is longer than 255 characters" in attempt.message


def test_an_incomplete_listing_with_a_bad_item_declares_nothing_gone(sandbox, key):
    body = listing_with(sandbox, bad_item(status="PAUSED"))
    body["items"] = [item for item in body["items"] if item["id"] != demo.ACME_STRIPE]
    body["count"] = len(body["items"])
    serve(sandbox, body)
    assert poll_key(key.pk).ok
    assert not Integration.objects.filter(status="GONE").exists()
    assert "1 unreadable" in last_attempt(key).message


def test_a_listing_incomplete_for_three_intervals_is_failing_and_alerts_then_recovers(sandbox, key, settings):
    """Never silent: what a listing leaves out cannot be watched, so an answer that never comes
    whole ends in an alert, like one that never comes at all."""
    body = listing_with(sandbox, bad_item(status="PAUSED"))
    start = timezone.now()
    for minutes in (0, 5, 10, 16):
        serve(sandbox, body)
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            assert poll_key(key.pk).ok
    key.refresh_from_db()
    assert (key.health, key.last_error_kind) == ("failing", "incomplete")
    (change,) = StatusChange.objects.filter(notify=True)
    assert change.severity == Severity.PROBLEM and change.reason.startswith("no complete answer since then")
    assert "ChargebackStop sent an incomplete listing" in upstreams.of(key).last_error(key)
    with time_machine.travel(start + timedelta(minutes=21), tick=False):
        assert poll_key(key.pk).ok  # the sandbox's own, complete listing
    key.refresh_from_db()
    assert (key.health, key.last_error_kind) == ("ok", "")
    assert [c.severity for c in StatusChange.objects.filter(notify=True).order_by("at")] == ["problem", "recovery"]


@pytest.mark.parametrize("bad_id", ["..", ".", "a/b", "int 1", "int%2F", "ünï"])
def test_an_integration_id_other_than_letters_digits_underscore_and_dash_is_refused(sandbox, key, bad_id):
    serve(sandbox, listing_with(sandbox, bad_item(id=bad_id)))
    assert poll_key(key.pk).ok
    assert not Integration.objects.filter(integration_id=bad_id).exists()
    position = len(sandbox.state.integrations()) + 1
    assert f"item {position}: 'id' has characters other than letters, digits, _ and -" in last_attempt(key).message


def test_a_single_answer_with_a_bad_id_is_a_schema_error(sandbox):
    sandbox.state.faults.add(PATH, kind="status", status=200, body=bad_item(id=".."), method="GET", times=1)
    from integrations_app.upstream.errors import SchemaError

    with pytest.raises(SchemaError):
        ChargebackStopClient(demo.PARTNER_KEY).get_integration(demo.ACME_ORDERS)


def test_a_listing_keeps_no_raw_payload_per_item(sandbox):
    listing = ChargebackStopClient(demo.PARTNER_KEY).list_integrations()
    assert listing.integrations
    assert all(item.raw == {} for item in listing.integrations)


@pytest.mark.parametrize(
    "case",
    [
        ("CHARGEBACKSTOP_LISTING_MAX_ITEMS", 6, "6 items"),
        ("CHARGEBACKSTOP_LISTING_MAX_MERCHANT_IDS", 9, "9 merchant IDs"),
        ("CHARGEBACKSTOP_LISTING_MAX_BYTES", 1_000, "0.001 MB"),
    ],
    ids=["items", "merchant IDs", "bytes"],
)
def test_a_listing_past_its_budget_stops_incomplete_with_a_clear_error(sandbox, key, settings, case):
    setting, value, budget = case
    setattr(settings, setting, value)
    sandbox.state.faults.add(PATH, kind="huge_listing", count=10**12, items=2, merchant_ids=3, method="GET")

    outcome = poll_key(key.pk)

    assert outcome.ok
    attempt = last_attempt(key)
    assert f"the listing passed its budget of {budget}" in attempt.message, attempt.message
    assert attempt.requests < 10
    assert not Integration.objects.filter(status="GONE").exists(), "an incomplete listing declared something gone"


def test_an_integration_with_more_merchant_ids_than_kept_is_a_named_bad_item(sandbox, key, settings):
    settings.CHARGEBACKSTOP_MAX_MERCHANT_IDS = 5
    serve(sandbox, listing_with(sandbox, bad_item(merchant_ids=[f"m{i}" for i in range(6)])))
    assert poll_key(key.pk).ok
    assert "integration int_bad_one: lists 6 merchant IDs, over the 5 kept per integration" in last_attempt(key).message


def test_known_merchants_are_recomputed_from_the_current_integrations(sandbox, key):
    acme = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    acme.merchant_ids = ["mrch_long_gone", *acme.merchant_ids]
    acme.save()
    current = sorted({m for item in sandbox.state.integrations(demo.ACME_ORG) for m in item["merchant_ids"]})

    assert poll_key(key.pk).ok

    acme.refresh_from_db()
    assert acme.merchant_ids == current


def test_known_merchants_per_organisation_are_capped(sandbox, key, settings):
    settings.CHARGEBACKSTOP_MAX_ORGANISATION_MERCHANT_IDS = 2
    assert poll_key(key.pk).ok
    assert all(len(org.merchant_ids) <= 2 for org in Organisation.objects.all())
    assert len(Organisation.objects.get(organisation_id=demo.ACME_ORG).merchant_ids) == 2


def test_the_create_page_summarises_a_long_merchant_list(sandbox, key, client):
    client.force_login(factories.staff())
    Organisation.objects.filter(organisation_id=demo.ACME_ORG).update(
        merchant_ids=[f"mrch_{number:05}" for number in range(5_000)]
    )
    html = client.get(reverse("integration-create")).content.decode()
    acme = html[html.index(f'data-merchants-of="{demo.ACME_ORG}"') :]
    acme = acme[: acme.index("</div>\n    </div>")]
    assert acme.count("data-merchant-chip=") == 50
    assert "and 4,950 more" in acme


def test_the_organisation_page_summarises_a_long_merchant_list(sandbox, key, client):
    client.force_login(factories.viewer())
    acme = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    Organisation.objects.filter(pk=acme.pk).update(merchant_ids=[f"mrch_{number:05}" for number in range(5_000)])
    html = client.get(acme.get_absolute_url()).content.decode()
    assert html.count("mrch_0") <= 200
    assert "and 4,800 more" in html
