"""The staff credentials pages, "test connection" and "poll now", over the real sandbox and Redis."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.contrib.messages import constants, get_messages
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboard import queues
from integrations_app.models import AuditEntry, ChargebackStopKey, DataFastAccount, DataFastSite, KeyOrganisation
from integrations_app.upstream.secret import mask
from integrations_app.views import context as broker_context
from tests import demo, factories
from tests.conftest import forget_broker_check
from tests.factories import present

pytestmark = pytest.mark.django_db

NEW_TOKEN = "dft_brand_new_token_0123456789abcdef"
NEW_KEY = "cbs_brand_new_key_fedcba9876543210"
SECRETS = [
    NEW_TOKEN,
    NEW_KEY,
    demo.DATAFAST_TOKEN.reveal(),
    demo.OTHER_DATAFAST_TOKEN.reveal(),
    demo.PARTNER_KEY.reveal(),
    demo.ORGANISATION_KEY.reveal(),
]


class SecretCheckingClient(Client):
    """Django's test client that fails the test if any known secret appears in any response body,
    including every page of a followed redirect."""

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        body = response.content.decode()
        for secret in SECRETS:
            assert secret not in body, f"a secret leaked into {request.get('PATH_INFO')}"
        return response


@pytest.fixture
def staff_client() -> SecretCheckingClient:
    client = SecretCheckingClient()
    client.force_login(factories.staff())
    return client


@pytest.fixture
def viewer_client() -> SecretCheckingClient:
    client = SecretCheckingClient()
    client.force_login(factories.viewer())
    return client


@pytest.fixture
def broker(redis_clean: Any) -> Iterator[redis.Redis]:
    forget_broker_check()
    yield redis.Redis.from_url(redis_clean.url)
    forget_broker_check()


def messages_of(response: Any) -> list[tuple[int, str]]:
    return [(message.level, message.message) for message in get_messages(response.wsgi_request)]


def audit_json() -> str:
    return json.dumps(list(AuditEntry.objects.values("action", "target", "before", "after", "upstream_answer")))


def field_error_shown(response: Any, field: str) -> bool:
    """The error is shown under its field, and the field points at it for screen readers."""
    html = response.content.decode()
    error_id = f"id_{field}_error"
    tag = re.search(rf'<(?:input|select|textarea)[^>]*\bid="id_{field}"[^>]*>', html)
    return (
        f'<div class="invalid-feedback d-block" id="{error_id}">' in html
        and tag is not None
        and 'aria-invalid="true"' in tag.group(0)
        and re.search(rf'aria-describedby="[^"]*\b{error_id}\b', tag.group(0)) is not None
    )


# --- Index -----------------------------------------------------------------------------------


def test_the_index_lists_accounts_websites_and_keys_with_masked_secrets_only(staff_client):
    account = factories.account()
    factories.site()
    key = factories.key(name="Acme key", level="organisation", secret=demo.ORGANISATION_KEY)
    staff_client.post(
        reverse("key-edit", args=[key.pk]),
        {"name": "Acme key", "level": "organisation", "enabled": "on", "manual_organisation_ids": "org_by_hand"},
    )
    response = staff_client.get(reverse("credentials"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme Holdings" in html and "Acme Store" in html and demo.ACME_STORE in html
    assert account.secret_hint in html and key.secret_hint in html
    assert "org_by_hand" in html and "(by hand)" in html
    assert html.count("<h1") == 1
    assert reverse("site-create") + f"?account={account.pk}" in html


def test_the_index_runs_the_same_number_of_queries_for_3_and_30_websites(staff_client, django_assert_max_num_queries):
    def fill(count: int) -> None:
        for index in range(DataFastSite.objects.count(), count):
            factories.site(website_id=f"{index:024x}", name=f"Site {index:02d}")
        for index in range(ChargebackStopKey.objects.count(), count // 3):
            factories.key(name=f"Key {index}")

    fill(3)
    with django_assert_max_num_queries(16):  # with the providers, the banner's 4 and the discovery notices' 3
        assert staff_client.get(reverse("credentials")).status_code == 200
    fill(30)
    with django_assert_max_num_queries(16):  # the same with ten times the websites
        response = staff_client.get(reverse("credentials"))
    assert response.content.decode().count("Site ") >= 30


# --- DataFast accounts -----------------------------------------------------------------------


def test_an_account_is_created_with_its_token_encrypted_and_audited_as_a_hint(staff_client):
    page = staff_client.get(reverse("account-create"))
    assert re.search(r'<input type="password" name="secret"[^>]*required', page.content.decode())
    response = staff_client.post(reverse("account-create"), {"name": "Brand", "secret": NEW_TOKEN}, follow=True)
    account = DataFastAccount.objects.get(name="Brand")
    assert account.secret.reveal() == NEW_TOKEN
    assert account.secret_hint == mask(NEW_TOKEN)
    assert (constants.SUCCESS, "Saved the DataFast account “Brand”.") in messages_of(response)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_app_datafastaccount WHERE id = %s", [account.pk])
        (stored,) = cursor.fetchone()
    assert NEW_TOKEN not in stored and stored.startswith("gAAAA")
    entry = AuditEntry.objects.get(action="credentials.account.create")
    assert entry.after == {"name": "Brand", "secret": mask(NEW_TOKEN), "alert_on_discovery": False}
    assert entry.target == "account Brand"


def test_the_edit_page_shows_the_hint_never_the_token_and_blank_keeps_it(staff_client):
    account = factories.account()
    page = staff_client.get(reverse("account-edit", args=[account.pk])).content.decode()
    assert f"Stored: {account.secret_hint}. Leave blank to keep it." in page
    assert re.search(r'<input type="password" name="secret"(?![^>]*value=)[^>]*>', page)
    staff_client.post(reverse("account-edit", args=[account.pk]), {"name": "Acme Renamed", "secret": ""})
    account.refresh_from_db()
    assert account.name == "Acme Renamed"
    assert account.secret == demo.DATAFAST_TOKEN
    entry = AuditEntry.objects.get(action="credentials.account.update")
    assert (entry.before, entry.after) == ({"name": "Acme Holdings"}, {"name": "Acme Renamed"})


def test_a_new_token_replaces_the_stored_one_and_the_audit_says_changed(staff_client):
    account = factories.account()
    old_hint = account.secret_hint
    staff_client.post(reverse("account-edit", args=[account.pk]), {"name": account.name, "secret": NEW_TOKEN})
    account.refresh_from_db()
    assert account.secret.reveal() == NEW_TOKEN
    entry = AuditEntry.objects.get(action="credentials.account.update")
    assert entry.before == {"secret": old_hint}
    assert entry.after == {"secret": f"changed, now {mask(NEW_TOKEN)}"}


def test_deleting_an_account_asks_first_and_deletes_its_websites(staff_client):
    account = factories.account()
    factories.site()
    factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird Books")
    page = staff_client.get(reverse("account-delete", args=[account.pk])).content.decode()
    assert "Its websites are deleted with it (2): Acme Store, Bluebird Books." in page
    assert re.search(r'<form method="post" data-confirm="Delete the DataFast account', page)
    assert DataFastAccount.objects.exists()
    response = staff_client.post(reverse("account-delete", args=[account.pk]))
    assert response.status_code == 302 and response.url == reverse("credentials")
    assert not DataFastAccount.objects.exists() and not DataFastSite.objects.exists()
    entry = AuditEntry.objects.get(action="credentials.account.delete")
    assert entry.before == {
        "name": "Acme Holdings",
        "secret": account.secret_hint,
        "alert_on_discovery": False,
        "websites": ["Acme Store", "Bluebird Books"],
    }


# --- DataFast websites -----------------------------------------------------------------------


def test_a_website_is_created_edited_disabled_and_deleted(staff_client):
    account = factories.account()
    response = staff_client.post(
        reverse("site-create"),
        {"account": account.pk, "name": "Acme", "website_id": demo.ACME_STORE.upper(), "enabled": "on"},
    )
    site = DataFastSite.objects.get(name="Acme")
    assert response.url == site.get_absolute_url()
    assert site.website_id == demo.ACME_STORE  # one spelling of an ObjectId
    assert site.enabled and site.poll_interval_seconds is None
    staff_client.post(
        reverse("site-edit", args=[site.pk]),
        {"account": account.pk, "name": "Acme", "website_id": demo.ACME_STORE, "poll_interval_seconds": "60"},
    )
    site.refresh_from_db()
    assert not site.enabled and site.poll_interval_seconds == 60
    update = AuditEntry.objects.get(action="credentials.site.update")
    assert update.before == {"enabled": True, "poll_interval_seconds": None}
    assert update.after == {"enabled": False, "poll_interval_seconds": 60}
    assert "Its poll history" in staff_client.get(reverse("site-delete", args=[site.pk])).content.decode()
    staff_client.post(reverse("site-delete", args=[site.pk]))
    assert not DataFastSite.objects.exists() and DataFastAccount.objects.exists()
    assert AuditEntry.objects.get(action="credentials.site.delete").before["website_id"] == demo.ACME_STORE


def test_the_website_form_offers_the_account_it_was_opened_from(staff_client):
    factories.account()
    other = factories.account(name="Harbor", token=demo.OTHER_DATAFAST_TOKEN)
    page = staff_client.get(reverse("site-create") + f"?account={other.pk}").content.decode()
    assert f'<option value="{other.pk}" selected>Harbor</option>' in page


# --- ChargebackStop keys ---------------------------------------------------------------------


def test_a_key_is_created_with_hand_entered_organisations(staff_client):
    response = staff_client.post(
        reverse("key-create"),
        {
            "name": "Northwind",
            "level": "partner",
            "secret": NEW_KEY,
            "enabled": "on",
            "manual_organisation_ids": "org_one, org_two\norg_one  org-three",
        },
    )
    key = ChargebackStopKey.objects.get(name="Northwind")
    assert response.url == key.get_absolute_url()
    assert key.secret.reveal() == NEW_KEY
    links = KeyOrganisation.objects.filter(key=key, source=KeyOrganisation.Source.MANUAL)
    assert sorted(links.values_list("organisation__organisation_id", flat=True)) == ["org-three", "org_one", "org_two"]
    entry = AuditEntry.objects.get(action="credentials.key.create")
    assert present(entry.after)["secret"] == mask(NEW_KEY)
    assert present(entry.after)["manual_organisation_ids"] == ["org-three", "org_one", "org_two"]


def test_editing_a_key_changes_hand_entered_organisations_and_keeps_learnt_ones(staff_client):
    key = factories.key()
    staff_client.post(
        reverse("key-edit", args=[key.pk]),
        {"name": key.name, "level": "partner", "enabled": "on", "manual_organisation_ids": "org_a org_b"},
    )
    learnt = KeyOrganisation.objects.get(organisation__organisation_id="org_b")
    learnt.source = KeyOrganisation.Source.LEARNT
    learnt.save()
    page = staff_client.get(reverse("key-edit", args=[key.pk])).content.decode()
    assert "org_a</textarea>" in page
    staff_client.post(
        reverse("key-edit", args=[key.pk]),
        {"name": key.name, "level": "organisation", "enabled": "on", "manual_organisation_ids": "org_c"},
    )
    reached = dict(KeyOrganisation.objects.filter(key=key).values_list("organisation__organisation_id", "source"))
    assert reached == {"org_b": "learnt", "org_c": "manual"}
    key.refresh_from_db()
    assert key.level == "organisation" and key.secret == demo.PARTNER_KEY
    entry = present(AuditEntry.objects.filter(action="credentials.key.update").first())
    assert entry.before == {"level": "partner", "manual_organisation_ids": ["org_a"]}
    assert entry.after == {"level": "organisation", "manual_organisation_ids": ["org_c"]}


def test_deleting_a_key_keeps_the_organisations_it_found(staff_client):
    key = factories.key()
    staff_client.post(
        reverse("key-edit", args=[key.pk]),
        {"name": key.name, "level": "partner", "enabled": "on", "manual_organisation_ids": "org_a"},
    )
    page = staff_client.get(reverse("key-delete", args=[key.pk])).content.decode()
    assert "data-confirm=" in page and "Organisations and integrations it found stay" in page
    staff_client.post(reverse("key-delete", args=[key.pk]))
    assert not ChargebackStopKey.objects.exists()
    assert not KeyOrganisation.objects.exists()
    entry = AuditEntry.objects.get(action="credentials.key.delete")
    assert present(entry.before)["secret"] == key.secret_hint and entry.target == "key Northwind"


# --- Validation --------------------------------------------------------------------------------


def account_data(**changes: str) -> dict[str, str]:
    return {"name": "Brand", "secret": NEW_TOKEN, **changes}


def site_data(**changes: str) -> dict[str, Any]:
    return {
        "account": DataFastAccount.objects.get().pk,
        "name": "New site",
        "website_id": demo.BLUEBIRD_BOOKS,
        "enabled": "on",
        **changes,
    }


def key_data(**changes: str) -> dict[str, str]:
    return {"name": "New key", "level": "partner", "secret": NEW_KEY, "enabled": "on", **changes}


@pytest.mark.parametrize(
    ("url", "data", "field", "message"),
    [
        ("account-create", {"secret": "tok_not_datafast"}, "secret", "A DataFast token starts with dft_"),
        ("account-create", {"secret": ""}, "secret", "Enter the token."),
        ("account-create", {"name": "acme holdings"}, "name", "Another DataFast account is already called"),
        ("account-create", {"name": "Tab\there"}, "name", "cannot contain control characters"),
        ("account-create", {"name": "x" * 101}, "name", "A name is at most 100 characters."),
        ("site-create", {"website_id": "6650a1f2c4e8b90012ab34"}, "website_id", "24 hexadecimal characters"),
        ("site-create", {"website_id": "6650a1f2c4e8b90012ab340z"}, "website_id", "24 hexadecimal characters"),
        ("site-create", {"website_id": demo.ACME_STORE}, "website_id", "“Acme Store” already uses this website ID"),
        ("site-create", {"name": "ACME STORE"}, "name", "Another website is already called"),
        ("site-create", {"poll_interval_seconds": "29"}, "poll_interval_seconds", "at least 30 seconds"),
        ("site-create", {"poll_interval_seconds": "soon"}, "poll_interval_seconds", "whole number of seconds"),
        ("site-create", {"account": "999999"}, "account", "no longer exists"),
        (
            "key-create",
            {"manual_organisation_ids": "org_ok, org bad!, org.dot"},
            "manual_organisation_ids",
            "these do not: bad!, org.dot.",
        ),
        (
            "key-create",
            {"level": "organisation", "manual_organisation_ids": "org_a\norg_b"},
            "manual_organisation_ids",
            "An organisation-level key reaches one organisation",
        ),
        ("key-create", {"level": "root"}, "level", "Choose organisation or partner."),
        ("key-create", {"secret": "two words"}, "secret", "An API key has no spaces"),
        ("key-create", {"name": "northwind"}, "name", "Another ChargebackStop key is already called"),
        ("key-create", {"poll_interval_seconds": "5"}, "poll_interval_seconds", "at least 30 seconds"),
    ],
)
def test_each_bad_field_is_named_inline_and_nothing_is_saved(staff_client, url, data, field, message):
    factories.site()
    factories.key()
    before = (DataFastAccount.objects.count(), DataFastSite.objects.count(), ChargebackStopKey.objects.count())
    defaults = {"account-create": account_data, "site-create": site_data, "key-create": key_data}[url]
    response = staff_client.post(reverse(url), defaults(**data))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in " ".join(errors[field])
    assert field_error_shown(response, field)
    assert "Nothing was saved" in response.content.decode()
    assert (DataFastAccount.objects.count(), DataFastSite.objects.count(), ChargebackStopKey.objects.count()) == before
    assert not AuditEntry.objects.exists()


def test_every_input_has_a_label_and_the_page_one_h1(staff_client):
    factories.account()
    for url in ("account-create", "site-create", "key-create"):
        html = staff_client.get(reverse(url)).content.decode()
        ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
        assert ids, url
        for input_id in ids:
            assert f'for="{input_id}"' in html, (url, input_id)
        assert html.count("<h1") == 1


# --- Test connection ---------------------------------------------------------------------------


def test_testing_a_website_reports_success_without_the_token(staff_client, sandbox):
    site = factories.site()
    response = staff_client.post(reverse("site-test", args=[site.pk]), follow=True)
    assert response.redirect_chain[-1][0] == site.get_absolute_url()
    [(level, text)] = messages_of(response)
    assert level == constants.SUCCESS
    assert "DataFast accepted the token" in text and "Connected: Stripe, Paddle" in text
    assert "DataFast accepted the token" in response.content.decode()
    entry = AuditEntry.objects.get(action="connection.test")
    assert entry.ok and entry.target == f"site Acme Store ({demo.ACME_STORE})"


def test_testing_a_website_with_a_revoked_token_is_an_error_message(staff_client, sandbox):
    site = factories.site()
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    response = staff_client.post(reverse("site-test", args=[site.pk]), follow=True)
    [(level, text)] = messages_of(response)
    assert level == constants.ERROR
    assert "DataFast refused the credential (HTTP 401)" in text
    assert 'class="alert alert-danger" role="alert"' in response.content.decode()
    assert not AuditEntry.objects.get(action="connection.test").ok


def test_testing_a_key_reports_the_organisations_it_sees(staff_client, sandbox):
    key = factories.key()
    response = staff_client.post(reverse("key-test", args=[key.pk]), follow=True)
    [(level, text)] = messages_of(response)
    assert level == constants.SUCCESS
    assert "ChargebackStop accepted the key" in text and demo.ACME_ORG in text


def test_testing_a_revoked_key_is_an_error_message(staff_client, sandbox):
    key = factories.key()
    sandbox.state.revoke_key(demo.PARTNER_KEY.reveal())
    response = staff_client.post(reverse("key-test", args=[key.pk]), follow=True)
    [(level, text)] = messages_of(response)
    assert level == constants.ERROR and "ChargebackStop refused the credential" in text


@pytest.mark.parametrize("name", ["site-test", "key-test", "site-poll", "key-poll"])
def test_actions_refuse_get(staff_client, name):
    pk = (factories.site() if name.startswith("site") else factories.key()).pk
    assert staff_client.get(reverse(name, args=[pk])).status_code == 405
    assert not AuditEntry.objects.exists()


# --- Poll now ----------------------------------------------------------------------------------


def test_poll_now_queues_the_task_in_redis(staff_client, broker):
    site = factories.site()
    before = broker.llen(queues.UPSTREAM)
    response = staff_client.post(reverse("site-poll", args=[site.pk]), follow=True)
    assert broker.llen(queues.UPSTREAM) == before + 1
    queued = json.loads(broker.lindex(queues.UPSTREAM, 0))
    assert queued["headers"]["task"] == "integrations_app.tasks.poll_site"
    [(level, text)] = messages_of(response)
    assert level == constants.SUCCESS and text.startswith("Poll queued for Acme Store")
    site.refresh_from_db()
    # The queued poll is this interval's: beat's next tick must not poll the site again.
    assert site.next_poll_at > timezone.now()
    entry = AuditEntry.objects.get(action="poll.now")
    assert entry.ok and entry.after == {"queued": True}


def test_poll_now_queues_a_key_poll(staff_client, broker):
    key = factories.key()
    staff_client.post(reverse("key-poll", args=[key.pk]))
    assert broker.llen(queues.UPSTREAM) == 1
    assert json.loads(broker.lindex(queues.UPSTREAM, 0))["headers"]["task"] == "integrations_app.tasks.poll_key"


def test_poll_now_with_the_broker_down_says_so_and_leaves_the_source_due(staff_client, broker_down):
    site = factories.site(next_poll_at=timezone.now() + timedelta(hours=1))
    response = staff_client.post(reverse("site-poll", args=[site.pk]))
    assert response.status_code == 302 and response.url == site.get_absolute_url()
    page = staff_client.get(response.url)
    assert page.status_code == 200
    assert "The worker/broker is unreachable; the poll will run when it is back." in page.content.decode()
    site.refresh_from_db()
    assert site.next_poll_at <= timezone.now()
    entry = AuditEntry.objects.get(action="poll.now")
    assert not entry.ok and entry.after == {"queued": False}


def test_poll_now_survives_the_broker_dying_after_the_check(staff_client, broker, publishing_fails, caplog):
    key = factories.key()
    broker_context._last.update(at=time.monotonic(), ok=1.0)  # the last check said "up"
    response = staff_client.post(reverse("key-poll", args=[key.pk]), follow=True)
    assert response.status_code == 200
    [(level, text)] = messages_of(response)
    assert level == constants.ERROR and text == "The worker/broker is unreachable; the poll will run when it is back."
    assert "Could not queue integrations_app.tasks.poll_key" in caplog.text  # `.delay` itself failed
    assert broker.llen(queues.UPSTREAM) == 0


# --- Access and secrets ------------------------------------------------------------------------


def every_url() -> list[tuple[str, list[int]]]:
    account, site, key = factories.account(), factories.site(), factories.key()
    return [
        ("credentials", []),
        ("account-create", []),
        ("account-edit", [account.pk]),
        ("account-delete", [account.pk]),
        ("site-create", []),
        ("site-edit", [site.pk]),
        ("site-delete", [site.pk]),
        ("site-test", [site.pk]),
        ("site-poll", [site.pk]),
        ("key-create", []),
        ("key-edit", [key.pk]),
        ("key-delete", [key.pk]),
        ("key-test", [key.pk]),
        ("key-poll", [key.pk]),
    ]


def test_viewers_get_403_on_every_credentials_url(viewer_client):
    for name, args in every_url():
        url = reverse(name, args=args)
        assert viewer_client.get(url).status_code == 403, name
        assert viewer_client.post(url, {"name": "Hijack", "secret": NEW_TOKEN}).status_code == 403, name
    assert DataFastAccount.objects.count() == 1 and ChargebackStopKey.objects.count() == 1
    assert DataFastSite.objects.get().name == "Acme Store"
    assert not AuditEntry.objects.exists()


def test_anonymous_users_are_sent_to_log_in(client):
    for name, args in every_url():
        url = reverse(name, args=args)
        for response in (client.get(url), client.post(url)):
            assert response.status_code == 302, name
            assert response.url.startswith(reverse("login") + "?next="), name


def test_no_audit_entry_ever_holds_a_secret(staff_client, sandbox):
    staff_client.post(reverse("account-create"), account_data())
    account = DataFastAccount.objects.get()
    staff_client.post(reverse("account-edit", args=[account.pk]), {"name": "Brand", "secret": NEW_TOKEN + "x"})
    staff_client.post(reverse("site-create"), site_data())
    site = DataFastSite.objects.get()
    staff_client.post(reverse("site-test", args=[site.pk]))
    staff_client.post(reverse("key-create"), key_data())
    key = ChargebackStopKey.objects.get()
    staff_client.post(reverse("key-edit", args=[key.pk]), key_data(secret=demo.PARTNER_KEY.reveal()))
    staff_client.post(reverse("key-test", args=[key.pk]))
    staff_client.post(reverse("key-delete", args=[key.pk]))
    staff_client.post(reverse("account-delete", args=[account.pk]))
    logged = audit_json()
    assert AuditEntry.objects.count() == 9
    for secret in [*SECRETS, NEW_TOKEN + "x"]:
        assert secret not in logged
    assert staff_client.get(reverse("audit")).status_code == 200
