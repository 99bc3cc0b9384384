from __future__ import annotations

import io
import sys

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite, KeyOrganisation
from integrations_app.models.secret_field import SecretUnreadable
from tests import demo, factories

pytestmark = pytest.mark.django_db


def run(*args: str, stdin: str = "") -> str:
    out = io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(*args, stdout=out)
    finally:
        sys.stdin = old_stdin
    return out.getvalue()


def test_add_datafast_site_reads_the_token_from_stdin_and_reports_what_it_sees(sandbox):
    out = run(
        "add_datafast_site",
        "--name",
        "Acme",
        "--website-id",
        demo.ACME_STORE,
        "--account",
        "Acme",
        stdin=demo.DATAFAST_TOKEN.reveal() + "\n",
    )
    assert "DataFast accepted the token" in out
    assert "Connected: Stripe, Paddle" in out
    assert demo.DATAFAST_TOKEN.reveal() not in out
    account = DataFastAccount.objects.get(name="Acme")
    assert account.secret == demo.DATAFAST_TOKEN
    assert account.secret_hint.endswith(demo.DATAFAST_TOKEN.reveal()[-4:])


def test_a_second_site_on_the_same_account_needs_no_token(sandbox):
    factories.account(name="Acme")
    run("add_datafast_site", "--name", "Bluebird", "--website-id", demo.BLUEBIRD_BOOKS, "--account", "Acme")
    assert DataFastSite.objects.get(name="Bluebird").account.name == "Acme"


def test_add_datafast_site_saves_even_when_the_api_is_down(sandbox):
    sandbox.state.faults.add("/api/", kind="status", status=500)
    out = run(
        "add_datafast_site", "--name", "Acme", "--website-id", demo.ACME_STORE, stdin=demo.DATAFAST_TOKEN.reveal()
    )
    assert "saved anyway" in out
    assert DataFastSite.objects.filter(website_id=demo.ACME_STORE).exists()


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--website-id", "nope"], "dft_x", "website-id: A website ID is 24 hexadecimal characters"),
        (["--website-id", demo.ACME_STORE], "not-a-token", "token: A DataFast token starts with dft_"),
        (["--website-id", demo.ACME_STORE], "", "No secret given"),
    ],
)
def test_add_datafast_site_rejects_bad_input_precisely(sandbox, args, stdin, message):
    with pytest.raises(CommandError, match=message):
        run("add_datafast_site", "--name", "Acme", *args, stdin=stdin)
    assert not DataFastSite.objects.exists()


def test_add_chargebackstop_key_reports_level_and_organisations(sandbox):
    out = run("add_chargebackstop_key", "--name", "Northwind", "--level", "partner", stdin=demo.PARTNER_KEY.reveal())
    assert "ChargebackStop accepted the key" in out
    assert demo.ACME_ORG in out and demo.CEDAR_ORG in out
    assert demo.PARTNER_KEY.reveal() not in out


def test_add_chargebackstop_key_keeps_hand_entered_organisations(sandbox):
    run(
        "add_chargebackstop_key",
        "--name",
        "Acme",
        "--level",
        "organisation",
        "--organisation-id",
        "org_new",
        stdin=demo.ORGANISATION_KEY.reveal(),
    )
    link = KeyOrganisation.objects.get(key__name="Acme")
    assert (link.organisation.organisation_id, link.source) == ("org_new", KeyOrganisation.Source.MANUAL)


def test_secrets_are_encrypted_at_rest(sandbox):
    factories.key()
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM integrations_app_chargebackstopkey")
        (stored,) = cursor.fetchone()
    assert demo.PARTNER_KEY.reveal() not in stored
    assert stored.startswith("gAAAA")


def test_key_rotation_re_encrypts_every_secret_with_the_new_key(sandbox, settings):
    factories.key()
    factories.account()
    new_key = Fernet.generate_key().decode()
    old_keys = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *old_keys]
    assert "Re-encrypted 2 secrets" in run("rotate_encryption_key")
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert ChargebackStopKey.objects.get().secret == demo.PARTNER_KEY
    assert DataFastAccount.objects.get().secret == demo.DATAFAST_TOKEN


def test_a_missing_key_is_a_clear_error_never_an_empty_secret(sandbox, settings):
    factories.key()
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    key = ChargebackStopKey.objects.get()  # loading never decrypts; revealing does
    with pytest.raises(SecretUnreadable, match="FIELD_ENCRYPTION_KEYS"):
        key.secret.reveal()
    with pytest.raises(CommandError, match="cannot be decrypted"):
        run("rotate_encryption_key")


@pytest.mark.django_db(transaction=True)
def test_poll_sync_polls_everything_and_prints_a_summary(sandbox):
    factories.site()
    factories.site(website_id=demo.BLUEBIRD_BOOKS, name="Bluebird")
    factories.key()
    out = run("poll", "--sync")
    assert "Polled 3 sources" in out
    assert "3 ok, 0 failed" in out


def test_add_chargebackstop_key_warns_when_the_secret_is_saved_twice(sandbox):
    run("add_chargebackstop_key", "--name", "Northwind", "--level", "partner", stdin=demo.PARTNER_KEY.reveal())
    errors = io.StringIO()
    old_stdin, sys.stdin = sys.stdin, io.StringIO(demo.PARTNER_KEY.reveal())
    try:
        call_command(
            "add_chargebackstop_key", "--name", "Twice", "--level", "partner", stdout=io.StringIO(), stderr=errors
        )
    finally:
        sys.stdin = old_stdin
    assert "already saved as the ChargebackStop key “Northwind”" in errors.getvalue()


def test_poll_with_redis_unreachable_says_so_and_leases_nothing(broker_down):
    site = factories.site()
    due = DataFastSite.objects.get(pk=site.pk).next_poll_at
    with pytest.raises(
        CommandError, match=r"Redis \(REDIS_URL\), the workers' broker, is unreachable or refused.*--sync"
    ):
        run("poll")
    assert DataFastSite.objects.get(pk=site.pk).next_poll_at == due  # still due: beat's tick takes it


def test_poll_whose_queuing_fails_after_the_check_gives_the_sources_back(redis_clean, publishing_fails):
    site = factories.site()
    with pytest.raises(CommandError, match=r"Queuing failed \(\w+\); some polls may have been queued"):
        run("poll")
    assert DataFastSite.objects.get(pk=site.pk).next_poll_at <= timezone.now()  # due again: not leased
