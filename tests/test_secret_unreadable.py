"""A secret whose encryption key rotated away: rows still load, pages say so, polls record it and
alert while the others go on. The secret is decrypted only when it is revealed for a request."""

from __future__ import annotations

import io

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite, Health, Organisation, PollAttempt
from integrations_app.models.secret_field import SecretUnreadable, StoredSecret, _decrypted
from tests import demo, factories
from tests.polling import poll_key, poll_site

pytestmark = pytest.mark.django_db

UNREADABLE = "secret unreadable: encryption key missing"
OLD_KEY = Fernet.generate_key().decode()


@pytest.fixture
def rotated_away(sandbox, settings):
    """Acme's account and the Northwind key were encrypted with a key that is then dropped from
    FIELD_ENCRYPTION_KEYS; the Bluebird site's account (another token) stays readable. Each source
    was polled once while every key was there."""
    current = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [OLD_KEY]
    lost_account = factories.account()
    key = factories.key()
    settings.FIELD_ENCRYPTION_KEYS = [*current, OLD_KEY]
    kept_account = factories.account(demo.OTHER_DATAFAST_TOKEN, name="Harbor Holdings")
    acme = factories.site()
    harbor = factories.site(website_id=demo.HARBOR_HARDWARE, name="Harbor Hardware", account=kept_account)
    for site in (acme, harbor):
        assert poll_site(site.pk).ok
    assert poll_key(key.pk).ok
    settings.FIELD_ENCRYPTION_KEYS = current
    return {"account": lost_account, "key": key, "acme": acme, "harbor": harbor, "kept": kept_account}


def test_a_token_is_decrypted_once_per_set_of_keys_and_never_past_its_key(settings):
    """A batch loads its accounts afresh: their tokens are not decrypted again each time, and a
    key dropped from FIELD_ENCRYPTION_KEYS is not outlived by a remembered plaintext."""
    stored = DataFastAccount.objects.get(pk=factories.account().pk).secret
    assert isinstance(stored, StoredSecret)
    ciphertext = stored.ciphertext
    before = _decrypted.cache_info()
    revealed = [StoredSecret(ciphertext).reveal() for _ in range(3)]
    after = _decrypted.cache_info()
    assert revealed == [demo.DATAFAST_TOKEN.reveal()] * 3
    assert after.hits - before.hits >= 2  # at most the first was decrypted
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnreadable):
        StoredSecret(ciphertext).reveal()


def test_rows_load_without_decrypting_and_reveal_says_what_is_wrong(rotated_away):
    account = DataFastAccount.objects.get(pk=rotated_away["account"].pk)
    key = ChargebackStopKey.objects.get(pk=rotated_away["key"].pk)
    site = DataFastSite.objects.select_related("account").get(pk=rotated_away["acme"].pk)
    stored = [account.secret, key.secret, site.account.secret]
    assert all(isinstance(secret, StoredSecret) and not secret.readable for secret in stored)
    assert repr(account.secret) == "Secret(••••)"  # a repr never decrypts
    with pytest.raises(SecretUnreadable, match="FIELD_ENCRYPTION_KEYS"):
        account.secret.reveal()
    assert DataFastAccount.objects.get(pk=rotated_away["kept"].pk).secret == demo.OTHER_DATAFAST_TOKEN


def test_pages_and_admin_lists_render_and_say_the_secret_is_unreadable(rotated_away, client):
    client.force_login(User.objects.create_superuser("root", password="root-password-1"))
    account, key, acme = rotated_away["account"], rotated_away["key"], rotated_away["acme"]
    organisation = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    saying_so = [
        reverse("credentials"),
        reverse("key-detail", args=[key.pk]),
        reverse("site-detail", args=[acme.pk]),
        reverse("account-edit", args=[account.pk]),
        reverse("key-edit", args=[key.pk]),
        reverse("admin:integrations_app_datafastaccount_changelist"),
        reverse("admin:integrations_app_chargebackstopkey_changelist"),
        reverse("admin:integrations_app_datafastaccount_change", args=[account.pk]),
        reverse("admin:integrations_app_chargebackstopkey_change", args=[key.pk]),
    ]
    rendering = [
        reverse("overview"),
        reverse("organisation-detail", args=[organisation.pk]),
        reverse("site-edit", args=[acme.pk]),
        reverse("account-delete", args=[account.pk]),
        reverse("key-delete", args=[key.pk]),
        reverse("integration-create"),
        reverse("status-json"),
        reverse("admin:integrations_app_datafastsite_changelist"),
        reverse("admin:integrations_app_datafastsite_change", args=[acme.pk]),
    ]
    for url in saying_so + rendering:
        response = client.get(url)
        assert response.status_code == 200, url
        if url in saying_so:
            assert UNREADABLE in response.content.decode(), url


def test_an_unreadable_secret_can_be_renamed_and_replaced_and_is_never_rewritten(rotated_away, client, settings):
    client.force_login(factories.staff())
    account = rotated_away["account"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_app_datafastaccount WHERE id = %s", [account.pk])
        (stored,) = cursor.fetchone()
    response = client.post(reverse("account-edit", args=[account.pk]), {"name": "Acme renamed", "secret": ""})
    assert response.status_code == 302
    settings.FIELD_ENCRYPTION_KEYS = [*settings.FIELD_ENCRYPTION_KEYS, OLD_KEY]
    renamed = DataFastAccount.objects.get(pk=account.pk)
    assert renamed.name == "Acme renamed" and renamed.secret == demo.DATAFAST_TOKEN  # the old key opens it again
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_app_datafastaccount WHERE id = %s", [account.pk])
        assert cursor.fetchone() == (stored,)


@pytest.mark.usefixtures("transactional_db")
def test_poll_sync_records_the_unreadable_secrets_alerts_and_polls_the_others(rotated_away, smtp_sink):
    out = io.StringIO()
    call_command("poll", "--sync", stdout=out)
    text = out.getvalue()
    assert "Polled 3 sources" in text and "1 ok, 2 failed" in text, text
    assert "failed: Acme Store (secret_unreadable)" in text and "failed: Northwind (secret_unreadable)" in text
    for source in (DataFastSite.objects.get(pk=rotated_away["acme"].pk), ChargebackStopKey.objects.get()):
        assert source.last_error_kind == "secret_unreadable"
        assert source.health == Health.CREDENTIAL_REJECTED
        assert "encryption key missing" in source.last_error_message
    assert PollAttempt.objects.filter(ok=False, error_kind="secret_unreadable").count() == 2
    assert DataFastSite.objects.get(pk=rotated_away["harbor"].pk).health == Health.OK
    send_pending_alerts(wait=False)
    bodies = [
        str(part.get_content()) for message in smtp_sink.messages for part in message.walk() if not part.is_multipart()
    ]
    assert any(UNREADABLE in body for body in bodies), [message["Subject"] for message in smtp_sink.messages]


def test_rotating_keys_refuses_an_unreadable_secret_and_rotates_the_rest(rotated_away, settings):
    out = io.StringIO()
    with pytest.raises(Exception, match="cannot be decrypted"):
        call_command("rotate_encryption_key", stdout=out)
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS, OLD_KEY]
    call_command("rotate_encryption_key", stdout=out)
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert DataFastAccount.objects.get(pk=rotated_away["account"].pk).secret == demo.DATAFAST_TOKEN
    assert ChargebackStopKey.objects.get().secret == demo.PARTNER_KEY


def test_checks_of_an_unreadable_secret_say_so_instead_of_failing(rotated_away, client):
    out = io.StringIO()
    call_command(
        "add_datafast_site",
        "--name=Bluebird",
        f"--website-id={demo.BLUEBIRD_BOOKS}",
        "--account=Acme Holdings",
        stdout=out,
    )
    assert "Saved website Bluebird" in out.getvalue() and UNREADABLE in out.getvalue()
    client.force_login(factories.staff())
    for url in (
        reverse("site-test", args=[rotated_away["acme"].pk]),
        reverse("key-test", args=[rotated_away["key"].pk]),
    ):
        page = client.post(url, follow=True)
        assert page.status_code == 200 and UNREADABLE in page.content.decode(), url
