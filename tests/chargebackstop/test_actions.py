"""Staff pages that create, rename and disable CUSTOM_ORDERS integrations, against the sandbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from integrations_app.alerts.describe import summary
from integrations_app.chargebackstop import discovery
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.chargebackstop.poller import apply_integrations, learn_organisations
from integrations_app.models import AuditEntry, ChargebackStopKey, FormSubmission, Integration, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.views import manage
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key

pytestmark = pytest.mark.django_db
PATH = "/v1/integrations/"
CREATE = reverse("integration-create")
ACME_LEGACY = "int_c3d81f6a09e4"  # CUSTOM_ORDERS, DISABLED


@pytest.fixture
def key(sandbox: Any) -> ChargebackStopKey:
    """The partner key, polled once, so organisations and integrations exist locally."""
    created = factories.key()
    assert poll_key(created.pk).ok
    return created


def upstream_requests(sandbox: Any) -> int:
    requests: int = sandbox.state.stats()["chargebackstop"]["requests"]
    return requests


def local(integration_id: str) -> Integration:
    return Integration.objects.get(integration_id=integration_id)


def form_data(key: ChargebackStopKey, **changes: Any) -> dict[str, Any]:
    data = {
        "key": key.pk,
        "organisation_id": demo.ACME_ORG,
        "name": "Acme Orders EU",
        "status": "ENABLED",
        "merchant_ids": "mrch_acme_us, mrch_acme_eu",
        "submission": str(uuid.uuid4()),
    }
    return {**data, **changes}


def errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, response
    errors: dict[str, list[str]] = response.context["form"].errors
    return errors


# --- create ------------------------------------------------------------------------------------


def test_the_create_page_offers_reachable_organisations_with_their_keys_and_merchants(sandbox, key, staff_client):
    response = staff_client.get(CREATE, {"organisation_id": demo.ACME_ORG})
    html = response.content.decode()
    form = response.context["form"]
    assert form["organisation_id"].value() == demo.ACME_ORG
    assert form["key"].value() == key.pk
    assert f'data-keys="{key.pk}"' in html
    assert 'id="id_key"' in html and 'id="id_organisation_id"' in html and 'id="id_merchant_ids"' in html
    for name in ("organisation_id", "name", "merchant_ids", "status", "submission"):
        assert f'name="{name}"' in html
    assert f'data-merchants-of="{demo.BLUEBIRD_ORG}"' in html
    assert 'data-merchant-chip="mrch_acme_eu" data-target="id_merchant_ids"' in html
    assert "separate ids with commas, spaces or new lines" in html.lower()
    assert uuid.UUID(str(form["submission"].value()))
    assert "<script" not in html.split("</head>")[1] and "style=" not in html


def test_a_valid_create_makes_one_integration_upstream_and_locally(sandbox, key, staff_client):
    before = len(sandbox.state.integrations(demo.ACME_ORG))
    response = staff_client.post(CREATE, form_data(key, merchant_ids="mrch_acme_uk\nmrch_acme_us"))
    created = sandbox.state.integrations(demo.ACME_ORG)
    assert len(created) == before + 1
    remote = created[-1]
    assert (remote["name"], remote["merchant_ids"], remote["status"]) == (
        "Acme Orders EU",
        ["mrch_acme_uk", "mrch_acme_us"],
        "ENABLED",
    )
    integration = local(remote["id"])
    assert response.status_code == 302 and response.url == integration.get_absolute_url()
    assert (integration.seen_by, integration.status, integration.type) == (key, "ENABLED", "CUSTOM_ORDERS")
    assert integration.changed_here_at is not None
    change = StatusChange.objects.get(integration=integration)
    assert (change.kind, change.severity, change.notify, present(change.actor).username) == (
        ChangeKind.INTEGRATION_APPEARED,
        Severity.INFO,
        False,
        "staff",
    )
    entry = AuditEntry.objects.get(action="integration.create")
    assert (entry.ok, entry.target, entry.username) == (True, f"integration {remote['id']}", "staff")
    assert entry.upstream_status == 201
    assert present(entry.after)["merchant_ids"] == ["mrch_acme_uk", "mrch_acme_us"]
    assert remote["id"] in entry.upstream_answer
    page = staff_client.get(response.url)
    assert "Created “Acme Orders EU”" in page.content.decode()
    assert f"integration {remote['id']}" in page.content.decode()  # the audit row on the page


def test_a_disabled_create_is_disabled_upstream(sandbox, key, staff_client):
    staff_client.post(CREATE, form_data(key, status="DISABLED"))
    assert sandbox.state.integrations(demo.ACME_ORG)[-1]["status"] == "DISABLED"


@pytest.mark.parametrize(
    "case",
    [
        ({"merchant_ids": ""}, "merchant_ids", "Enter at least one merchant ID."),
        ({"merchant_ids": " ,\n , "}, "merchant_ids", "Enter at least one merchant ID."),
        ({"merchant_ids": "mrch_acme_us mrch_acme_eu,mrch_acme_us"}, "merchant_ids", "more than once: mrch_acme_us"),
        ({"merchant_ids": "mrch_acme_us mrch/acme;eu"}, "merchant_ids", "these do not: mrch/acme;eu"),
        ({"merchant_ids": "m" * 101}, "merchant_ids", "at most 100 characters"),
        ({"merchant_ids": " ".join(f"m{i}" for i in range(1001))}, "merchant_ids", "at most 1,000"),
        ({"name": ""}, "name", "Enter a name."),
        ({"name": "   "}, "name", "Enter a name."),
        ({"name": "x" * 256}, "name", "at most 255 characters; this one has 256"),
        ({"name": "Acme\tOrders"}, "name", "control character"),
        ({"status": "PAUSED"}, "status", "Choose Enabled or Disabled."),
        ({"organisation_id": "org_nobody"}, "organisation_id", "No enabled key reaches that organisation"),
    ],
)
def test_an_invalid_form_is_refused_before_any_request(sandbox, key, staff_client, case):
    changes, field, words = case
    before = upstream_requests(sandbox)
    data = form_data(key, **changes)
    response = staff_client.post(CREATE, data)
    assert words in " ".join(errors(response)[field])
    assert upstream_requests(sandbox) == before
    html = response.content.decode()
    described_by = f"id_{field}_error" if field == "organisation_id" else f"id_{field}_helptext id_{field}_error"
    assert f'aria-describedby="{described_by}" id="id_{field}"' in html and f'id="id_{field}_error"' in html
    assert 'aria-invalid="true"' in html
    if field == "merchant_ids" and data["merchant_ids"].strip(" ,\n"):
        assert response.context["form"]["merchant_ids"].value() == data["merchant_ids"]  # input kept


def test_a_255_character_name_and_mixed_separators_are_accepted(sandbox, key, staff_client):
    response = staff_client.post(
        CREATE, form_data(key, name="n" * 255, merchant_ids=" mrch_acme_eu,\r\n\tmrch_acme_us ")
    )
    assert response.status_code == 302
    assert sandbox.state.integrations(demo.ACME_ORG)[-1]["merchant_ids"] == ["mrch_acme_eu", "mrch_acme_us"]


def test_an_organisation_the_chosen_key_cannot_reach_is_refused_before_any_request(sandbox, key, staff_client):
    acme_only = factories.key(demo.ORGANISATION_KEY, name="Acme only", level="organisation")
    poll_key(acme_only.pk)
    before = upstream_requests(sandbox)
    response = staff_client.post(CREATE, form_data(acme_only, organisation_id=demo.BLUEBIRD_ORG))
    assert errors(response)["organisation_id"] == ["This key cannot reach that organisation."]
    assert upstream_requests(sandbox) == before
    # Each option says which keys reach it, for the page to filter.
    assert f'data-keys="{key.pk} {acme_only.pk}"' in response.content.decode()


def test_a_merchant_of_another_organisation_is_explained_on_the_merchant_field(sandbox, key, staff_client):
    before = len(sandbox.state.integrations())
    data = form_data(key, merchant_ids="mrch_acme_us mrch_bluebird_main")
    response = staff_client.post(CREATE, data)
    assert errors(response)["merchant_ids"] == [
        "ChargebackStop says one or more of these merchant IDs do not exist or do not belong to this organisation. "
        "Not among the merchants ChargebackStop lists for it: mrch_bluebird_main."
    ]
    assert response.context["form"]["merchant_ids"].value() == data["merchant_ids"]
    assert len(sandbox.state.integrations()) == before
    entry = AuditEntry.objects.get(action="integration.create")
    assert (entry.ok, entry.target, entry.upstream_status) == (False, f"organisation {demo.ACME_ORG}", 422)
    assert "INVALID_MERCHANT_IDS" in entry.upstream_answer


def test_an_invalid_merchant_known_elsewhere_says_whose_it_is(sandbox, key, staff_client):
    discovery.discover(key)  # merchants by name, for the picker and the words
    response = staff_client.post(CREATE, form_data(key, merchant_ids="mrch_acme_us mrch_bluebird_shop mrch_nobody"))
    assert errors(response)["merchant_ids"][0].endswith(
        "Not among the merchants ChargebackStop lists for it: mrch_bluebird_shop (Bluebird Shop of Bluebird Media), "
        "mrch_nobody."
    )


def test_the_merchant_picker_shows_names_and_types(sandbox, key, staff_client):
    discovery.discover(key)
    page = staff_client.get(CREATE + f"?organisation_id={demo.BLUEBIRD_ORG}").content.decode()
    group = page.split(f'data-merchants-of="{demo.BLUEBIRD_ORG}"')[1].split("</div>\n    </div>")[0]
    assert 'data-merchant-chip="mrch_bluebird_shop"' in group
    assert '<bdi>Bluebird Shop</bdi> <span class="badge text-bg-light border">GENERIC</span>' in group
    assert '<bdi>Bluebird Media</bdi> <span class="badge text-bg-light border">STRIPE</span>' in group


def _error_body(code: str, message: str, **more: str) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, **more}]}


@pytest.mark.parametrize(
    "case",
    [
        (422, _error_body("DUPLICATE_MERCHANT_IDS", "dup"), "merchant_ids", "more than once"),
        (404, None, "organisation_id", "ChargebackStop cannot find this organisation for this key (404)."),
        (401, None, "key", "ChargebackStop refused this key (HTTP 401)"),
        (403, None, "key", "ChargebackStop refused this key (HTTP 403)"),
        (400, _error_body("VALIDATION_ERROR", "name is too long", field="name"), "name", "name is too long"),
        (400, _error_body("VALIDATION_ERROR", "odd", field="colour"), "__all__", "ChargebackStop refused this value"),
    ],
)
def test_each_upstream_refusal_is_explained_on_its_field(sandbox, key, staff_client, case):
    status, body, field, words = case
    fault = {"body": body} if body else {}
    sandbox.state.faults.add(PATH, kind="status", status=status, method="POST", times=1, **fault)
    data = form_data(key)
    response = staff_client.post(CREATE, data)
    assert words in " ".join(errors(response)[field])
    assert response.context["form"]["name"].value() == data["name"]
    assert AuditEntry.objects.get(action="integration.create").ok is False
    assert not Integration.objects.filter(name=data["name"]).exists()


@pytest.mark.parametrize("fault", [{"kind": "status", "status": 500}, {"kind": "drop"}])
def test_a_transient_error_on_create_says_it_may_or_may_not_have_been_created(sandbox, key, staff_client, fault):
    sandbox.state.faults.add(PATH, method="POST", times=1, **fault)
    before = upstream_requests(sandbox)
    data = form_data(key)
    response = staff_client.post(CREATE, data)
    (message,) = errors(response)["__all__"]
    assert "may or may not have been created" in message and "check the organisation page" in message
    assert upstream_requests(sandbox) == before + 1  # a POST is never retried
    form = response.context["form"]
    assert (form["name"].value(), form["merchant_ids"].value()) == (data["name"], data["merchant_ids"])
    assert form["submission"].value() != data["submission"]  # a new attempt gets a new token
    html = response.content.decode()
    assert (
        'role="alert"' in html
        and reverse("organisation-detail", args=[key.organisations.get(organisation_id=demo.ACME_ORG).pk]) in html
    )


def test_a_malformed_answer_is_a_form_level_error(sandbox, key, staff_client):
    sandbox.state.faults.add(PATH, kind="malformed", method="POST", times=1)
    response = staff_client.post(CREATE, form_data(key))
    assert "not what its documentation describes" in errors(response)["__all__"][0]


def test_a_resubmitted_form_creates_once_and_leads_to_the_same_integration(sandbox, key, staff_client):
    before = len(sandbox.state.integrations())
    data = form_data(key)
    first = staff_client.post(CREATE, data)
    requests_after_first = upstream_requests(sandbox)
    second = staff_client.post(CREATE, data, follow=True)
    assert len(sandbox.state.integrations()) == before + 1
    assert upstream_requests(sandbox) == requests_after_first
    assert second.redirect_chain == [(first.url, 302)]
    assert "This form was already submitted; here is the integration it created." in second.content.decode()


def test_a_resubmitted_form_whose_first_attempt_failed_says_so_without_a_request(sandbox, key, staff_client):
    sandbox.state.faults.add(PATH, kind="status", status=404, method="POST", times=1)
    data = form_data(key)
    staff_client.post(CREATE, data)
    before = upstream_requests(sandbox)
    response = staff_client.post(CREATE, data)
    assert "already submitted" in errors(response)["__all__"][0]
    assert upstream_requests(sandbox) == before


def test_a_form_without_its_one_time_token_is_refused_before_any_request(sandbox, key, staff_client):
    before = upstream_requests(sandbox)
    response = staff_client.post(CREATE, form_data(key, submission=""))
    assert "one-time token" in errors(response)["submission"][0]
    assert 'role="alert"' in response.content.decode()
    assert upstream_requests(sandbox) == before


def test_a_resubmission_while_the_first_is_still_running_waits_then_says_so(sandbox, key, staff_client, monkeypatch):
    monkeypatch.setattr(manage, "RESUBMIT_WAIT_SECONDS", 0.3)
    data = form_data(key)
    FormSubmission.objects.create(token=data["submission"], user=User.objects.get(username="staff"))
    before = upstream_requests(sandbox)
    response = staff_client.post(CREATE, data)
    assert "still answering" in errors(response)["__all__"][0]
    assert response.context["form"]["submission"].value() == data["submission"]  # submitting again waits again
    assert upstream_requests(sandbox) == before


# --- rename ------------------------------------------------------------------------------------


def test_rename_updates_the_page_and_chargebackstop_at_once(sandbox, key, staff_client):
    integration = local(demo.ACME_ORDERS)
    url = reverse("integration-rename", args=[integration.pk])
    page = staff_client.get(url)
    assert page.status_code == 200 and 'for="id_name"' in page.content.decode()
    response = staff_client.post(url, {"name": "  Acme Orders (EU)  "})
    assert response.status_code == 302 and response.url == integration.get_absolute_url()
    assert sandbox.state.integration(demo.ACME_ORDERS)["name"] == "Acme Orders (EU)"
    assert local(demo.ACME_ORDERS).name == "Acme Orders (EU)"
    change = StatusChange.objects.get(kind=ChangeKind.INTEGRATION_NAME)
    assert (change.old, change.new, present(change.actor).username, change.notify) == (
        "Acme Orders API",
        "Acme Orders (EU)",
        "staff",
        False,
    )
    entry = AuditEntry.objects.get(action="integration.rename")
    assert (entry.target, present(entry.before)["name"], present(entry.after)["name"]) == (
        f"integration {demo.ACME_ORDERS}",
        "Acme Orders API",
        "Acme Orders (EU)",
    )
    assert "Acme Orders (EU)" in staff_client.get(response.url).content.decode()
    poll_key(key.pk)  # the next poll agrees: nothing more to record
    assert StatusChange.objects.filter(kind=ChangeKind.INTEGRATION_NAME).count() == 1


@pytest.mark.parametrize(
    ("name", "words"),
    [("Acme Orders API", "already its name"), ("", "Enter a name."), ("y" * 256, "at most 255 characters")],
)
def test_rename_refuses_a_bad_name_before_any_request(sandbox, key, staff_client, name, words):
    before = upstream_requests(sandbox)
    response = staff_client.post(reverse("integration-rename", args=[local(demo.ACME_ORDERS).pk]), {"name": name})
    assert words in errors(response)["name"][0]
    assert upstream_requests(sandbox) == before


def test_rename_explains_an_upstream_validation_error_on_the_name(sandbox, key, staff_client):
    sandbox.state.faults.add(
        f"{PATH}{demo.ACME_ORDERS}",
        kind="status",
        status=400,
        method="PATCH",
        times=1,
        body=_error_body("VALIDATION_ERROR", "name is not allowed", field="name"),
    )
    response = staff_client.post(reverse("integration-rename", args=[local(demo.ACME_ORDERS).pk]), {"name": "New"})
    assert "name is not allowed" in errors(response)["name"][0]
    assert response.context["form"]["name"].value() == "New"
    assert local(demo.ACME_ORDERS).name == "Acme Orders API"
    assert AuditEntry.objects.get(action="integration.rename").ok is False


# --- disable -----------------------------------------------------------------------------------


def test_the_disable_page_confirms_and_says_the_api_cannot_re_enable(sandbox, key, staff_client):
    response = staff_client.get(reverse("integration-disable", args=[local(demo.ACME_ORDERS).pk]))
    html = response.content.decode()
    assert "The ChargebackStop API cannot re-enable it." in html
    assert "data-confirm=" in html and 'method="post"' in html


def test_disable_updates_at_once_and_notifies_naming_the_user_without_an_alert(sandbox, key, staff_client):
    integration = local(demo.ACME_ORDERS)
    response = staff_client.post(reverse("integration-disable", args=[integration.pk]))
    assert response.status_code == 302 and response.url == integration.get_absolute_url()
    assert sandbox.state.integration(demo.ACME_ORDERS)["status"] == "DISABLED"
    integration.refresh_from_db()
    assert (integration.status, integration.alert_open) == ("DISABLED", False)
    assert integration.changed_here_at is not None and integration.since == integration.changed_here_at
    (change,) = StatusChange.objects.filter(integration=integration)
    assert (change.kind, change.severity, change.notify, change.old, change.new) == (
        ChangeKind.INTEGRATION_STATUS,
        Severity.NOTICE,
        True,
        "ENABLED",
        "DISABLED",
    )
    assert (change.reason, present(change.actor).username) == ("disabled by staff in the dashboard", "staff")
    assert summary(change).endswith("disabled by staff in the dashboard")  # what the admins' email says
    entry = AuditEntry.objects.get(action="integration.disable")
    assert (entry.ok, entry.target, present(entry.after)["status"]) == (
        True,
        f"integration {demo.ACME_ORDERS}",
        "DISABLED",
    )
    assert entry.upstream_status == 200
    page = staff_client.get(response.url).content.decode()
    assert "Disabled “Acme Orders API”" in page and reverse("integration-disable", args=[integration.pk]) not in page
    poll_key(key.pk)
    assert StatusChange.objects.filter(integration=integration).count() == 1
    assert local(demo.ACME_ORDERS).alert_open is False


def test_a_poll_that_read_its_listing_before_a_disable_does_not_undo_it(sandbox, key, staff_client):
    started = timezone.now()
    listing = ChargebackStopClient(key.secret).list_integrations()  # still says ENABLED
    integration = local(demo.ACME_ORDERS)
    staff_client.post(reverse("integration-disable", args=[integration.pk]))
    organisations = learn_organisations(key, listing, now=started)
    apply_integrations(key, listing, organisations, now=started, first_observation=False)
    assert local(demo.ACME_ORDERS).status == "DISABLED"
    assert StatusChange.objects.filter(integration=integration).count() == 1


@pytest.mark.parametrize("integration_id", [demo.ACME_STRIPE, ACME_LEGACY])
@pytest.mark.parametrize("method", ["get", "post"])
def test_disable_is_refused_for_other_types_and_disabled_integrations(
    sandbox, key, staff_client, integration_id, method
):
    integration = local(integration_id)
    before = upstream_requests(sandbox)
    response = getattr(staff_client, method)(reverse("integration-disable", args=[integration.pk]), follow=True)
    assert response.redirect_chain == [(integration.get_absolute_url(), 302)]
    assert "Only" in response.content.decode()
    assert upstream_requests(sandbox) == before
    assert not AuditEntry.objects.exists()


def test_rename_is_refused_for_other_types(sandbox, key, staff_client):
    integration = local(demo.ACME_STRIPE)
    before = upstream_requests(sandbox)
    response = staff_client.post(reverse("integration-rename", args=[integration.pk]), {"name": "X"}, follow=True)
    assert "Only CUSTOM_ORDERS integrations can be renamed" in response.content.decode()
    assert upstream_requests(sandbox) == before


def test_disable_uses_another_enabled_key_when_the_one_that_saw_it_is_disabled(sandbox, key, staff_client):
    other = factories.key(demo.ORGANISATION_KEY, name="Acme only", level="organisation")
    poll_key(other.pk)
    key.enabled = False
    key.save(update_fields=["enabled"])
    Integration.objects.filter(integration_id=demo.ACME_ORDERS).update(seen_by=key)
    staff_client.post(reverse("integration-disable", args=[local(demo.ACME_ORDERS).pk]))
    assert sandbox.state.integration(demo.ACME_ORDERS)["status"] == "DISABLED"
    assert StatusChange.objects.get(kind=ChangeKind.INTEGRATION_STATUS).key == other


def test_disable_without_any_enabled_key_is_refused_plainly(sandbox, key, staff_client):
    ChargebackStopKey.objects.update(enabled=False)
    before = upstream_requests(sandbox)
    response = staff_client.post(reverse("integration-disable", args=[local(demo.ACME_ORDERS).pk]), follow=True)
    assert "No enabled ChargebackStop key reaches organisation" in response.content.decode()
    assert upstream_requests(sandbox) == before
    assert local(demo.ACME_ORDERS).status == "ENABLED"


def test_a_disable_the_api_refuses_changes_nothing_here(sandbox, key, staff_client):
    sandbox.state.faults.add(f"{PATH}{demo.ACME_ORDERS}", kind="status", status=500, method="PATCH", times=1)
    response = staff_client.post(reverse("integration-disable", args=[local(demo.ACME_ORDERS).pk]), follow=True)
    assert "did not answer properly" in response.content.decode()
    assert local(demo.ACME_ORDERS).status == "ENABLED"
    assert not StatusChange.objects.filter(kind=ChangeKind.INTEGRATION_STATUS).exists()
    assert AuditEntry.objects.get(action="integration.disable").upstream_status == 500


# --- who may ------------------------------------------------------------------------------------


def _urls() -> list[str]:
    pk = local(demo.ACME_ORDERS).pk
    return [CREATE, reverse("integration-rename", args=[pk]), reverse("integration-disable", args=[pk])]


@pytest.mark.parametrize("method", ["get", "post"])
def test_viewers_are_refused_every_management_page(sandbox, key, client, method):
    client.force_login(factories.viewer())
    before = upstream_requests(sandbox)
    for url in _urls():
        assert getattr(client, method)(url, {"name": "X"}).status_code == 403, url
    assert upstream_requests(sandbox) == before
    assert local(demo.ACME_ORDERS).status == "ENABLED"


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_users_are_sent_to_the_login_page(sandbox, key, client, method):
    for url in _urls():
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response.url.startswith(reverse("login")), url
