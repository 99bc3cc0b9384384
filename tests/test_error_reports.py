"""Secrets stay out of error reports: sensitive form fields, Django's error mail, foreign hosts,
name clashes between concurrent saves, and upstream answers kept in the audit log."""

from __future__ import annotations

import logging
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views.debug import get_default_exception_reporter_filter

from integrations_app import audit
from integrations_app.models import AuditEntry, ChargebackStopKey, DataFastAccount, DataFastSite
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key
from tests.test_security import manage, production_env

pytestmark = pytest.mark.django_db

TOKEN = "dft_errorreport_4b1c9e07d2a8f6"
KEY = "cbs_errorreport_8e2a61f0c7b3d5"
ADMIN_TOKEN = "dft_errorreport_admin_5c8e1f3a7b"
WINDOW = 12
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="(?P<token>[^"]+)"')


def leaked(text: str, *secrets: str) -> list[str]:
    return [secret for secret in secrets for at in range(len(secret) - WINDOW + 1) if secret[at : at + WINDOW] in text]


def message_text(message: Any) -> str:
    parts = [f"{name}: {value}" for name, value in message.items()]
    parts += [str(part.get_content()) for part in message.walk() if not part.is_multipart()]
    return "\n".join(parts)


@pytest.fixture
def error_mail(settings: Any, smtp_sink: Any) -> Any:
    """Django's error mail switched on, to its own recipient, into the SMTP sink."""
    settings.ADMINS = [("errors", "errors@example.com")]
    return smtp_sink


@pytest.fixture
def root_client() -> Client:
    client = Client(raise_request_exception=False)  # a 500 is answered and reported, as in production
    client.force_login(User.objects.create_superuser("root", password="root-password-1"))
    return client


# --- settings ------------------------------------------------------------------------------------


def test_error_mail_has_its_own_recipients_and_is_off_by_default():
    show = "from django.conf import settings; print(settings.ADMINS, settings.ALERT_RECIPIENTS)"
    default = manage("shell", "-c", show, env=production_env(ADMINS="ops@example.com"))
    assert default.stdout.strip().splitlines()[-1] == "[] ['ops@example.com']", default.stderr
    separate = manage("shell", "-c", show, env=production_env(ERROR_EMAILS="dev@example.com, oncall@example.com"))
    assert separate.stdout.strip().splitlines()[-1] == (
        "[('dev@example.com', 'dev@example.com'), ('oncall@example.com', 'oncall@example.com')] ['ops@example.com']"
    ), separate.stderr


# --- sensitive fields ----------------------------------------------------------------------------


def secret_forms() -> list[tuple[str, dict[str, str]]]:
    account = factories.account()
    key = factories.key()
    return [
        (reverse("account-create"), {"name": "New", "secret": TOKEN}),
        (reverse("account-edit", args=[account.pk]), {"name": account.name, "secret": TOKEN}),
        (reverse("key-create"), {"name": "New", "level": "partner", "secret": KEY}),
        (reverse("key-edit", args=[key.pk]), {"name": key.name, "level": "partner", "secret": KEY}),
        (reverse("admin:integrations_app_datafastaccount_add"), {"name": "New", "secret": TOKEN}),
        (reverse("admin:integrations_app_datafastaccount_change", args=[account.pk]), {"name": "X", "secret": TOKEN}),
        (reverse("admin:integrations_app_chargebackstopkey_add"), {"name": "New", "level": "partner", "secret": KEY}),
        (
            reverse("admin:integrations_app_chargebackstopkey_change", args=[key.pk]),
            {"name": "X", "level": "partner", "secret": KEY},
        ),
    ]


def test_every_form_that_takes_a_secret_marks_it_sensitive(root_client):
    for url, data in secret_forms():
        response = root_client.post(url, data)
        assert "secret" in getattr(response.wsgi_request, "sensitive_post_parameters", ()), url


def test_the_report_filter_hides_every_secret_like_field_and_header():
    request = RequestFactory().post(
        "/anywhere/",
        {
            "name": "visible",
            "token": TOKEN,
            "api_key": KEY,
            "new_password": TOKEN,
            "client_secret": KEY,
            "Authorization": f"Bearer {TOKEN}",
            "x-api-key": KEY,
        },
        HTTP_AUTHORIZATION=f"Bearer {KEY}",
        HTTP_X_API_KEY=KEY,
    )
    reporter = get_default_exception_reporter_filter()
    shown = reporter.get_post_parameters(request)
    assert shown["name"] == "visible"
    assert leaked(repr(dict(shown)), TOKEN, KEY) == []
    assert leaked(repr(reporter.get_safe_request_meta(request)), TOKEN, KEY) == []
    assert leaked(repr(reporter.get_safe_settings()), demo.PARTNER_KEY.reveal()) == []


def test_a_server_error_on_a_secret_form_mails_the_report_without_the_secret(root_client, error_mail, settings):
    settings.FIELD_ENCRYPTION_KEYS = []  # a real misconfiguration: saving any secret fails with a 500
    urls = [
        (reverse("account-create"), {"name": "New", "secret": TOKEN, "token": TOKEN}),
        (reverse("admin:integrations_app_datafastaccount_add"), {"name": "N", "secret": ADMIN_TOKEN}),
    ]
    for url, data in urls:
        assert root_client.post(url, data).status_code == 500
    assert len(error_mail.messages) == 2
    for message in error_mail.messages:
        assert message["To"] == "errors@example.com"
        text = message_text(message)
        assert "ImproperlyConfigured" in text and "POST" in text  # the report is there, with its request
        assert leaked(text, TOKEN, KEY, ADMIN_TOKEN) == []


def test_server_errors_are_not_mailed_to_the_alert_recipients(root_client, smtp_sink, settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    assert root_client.post(reverse("account-create"), {"name": "New", "secret": TOKEN}).status_code == 500
    assert smtp_sink.messages == []


# --- foreign hosts ---------------------------------------------------------------------------------


def test_a_foreign_host_is_logged_and_never_mailed(client, error_mail, caplog):
    with caplog.at_level(logging.WARNING, logger="django.security.DisallowedHost"):
        for _ in range(20):
            assert client.get("/", HTTP_HOST="attacker.example").status_code == 400
    assert error_mail.messages == []
    records = [record for record in caplog.records if record.name == "django.security.DisallowedHost"]
    assert len(records) == 20 and "attacker.example" in records[0].getMessage()


# --- name clashes ------------------------------------------------------------------------------------


def logged_in_session(base_url: str, user: User) -> requests.Session:
    session = requests.Session()
    login = session.get(f"{base_url}{reverse('login')}")
    token = present(CSRF_INPUT.search(login.text))["token"]
    password = "staff-password-1"
    session.post(
        f"{base_url}{reverse('login')}",
        {"username": user.username, "password": password, "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base_url}{reverse('login')}"},
    )
    assert "sessionid" in session.cookies
    return session


@pytest.mark.parametrize(
    ("url", "data", "field", "words"),
    [
        ("account-create", {"name": "Acme", "secret": TOKEN}, "name", "Another DataFast account is already called"),
        ("key-create", {"name": "Acme", "level": "partner", "secret": KEY}, "name", "Another ChargebackStop key"),
        ("site-create", {"name": "Acme", "website_id": demo.ACME_STORE}, "website_id", "already uses this website ID"),
    ],
)
@pytest.mark.usefixtures("transactional_db")
def test_concurrent_posts_of_one_name_save_one_and_explain_the_clash(live_server, url, data, field, words):
    """Four real requests at once. The database's write lock is held meanwhile (SQLite: by another
    connection), so every request passes the form's checks before any can save; then they save one
    after another, as concurrent requests do when the checks race."""
    account = factories.account(name="Existing")
    data = {**data, "account": account.pk, "enabled": "on"} if url == "site-create" else data
    session = logged_in_session(live_server.url, factories.staff())
    page = f"{live_server.url}{reverse(url)}"
    token = present(CSRF_INPUT.search(session.get(page).text))["token"]
    post = {**data, "csrfmiddlewaretoken": token}
    model = {"account-create": DataFastAccount, "key-create": ChargebackStopKey, "site-create": DataFastSite}[url]
    with ThreadPoolExecutor(4) as pool:
        with hold_the_write_lock(model):
            answers = [
                pool.submit(session.post, page, post, headers={"Referer": page}, allow_redirects=False)
                for _ in range(4)
            ]
            time.sleep(1.5)  # every request has read, validated and queued on the lock
        responses = [answer.result() for answer in answers]
    assert sorted(response.status_code for response in responses) == [200, 200, 200, 302], [
        response.text[:300] for response in responses if response.status_code == 500
    ]
    assert model._default_manager.filter(**{field: data[field]}).count() == 1
    refused = [response.text for response in responses if response.status_code == 200]
    assert all(words in text and f'id="id_{field}_error"' in text for text in refused), refused[0][:2000]
    assert AuditEntry.objects.filter(action__endswith=".create").count() == 1


@contextmanager
def hold_the_write_lock(model: type[Any]) -> Iterator[None]:
    """Let reads through but hold every write to `model`'s table until leaving."""
    if connection.vendor == "sqlite":
        other = sqlite3.connect(connection.settings_dict["NAME"], timeout=30)
        other.execute("BEGIN IMMEDIATE")  # the database's one write lock, from another connection
        try:
            yield
        finally:
            other.rollback()
            other.close()
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f'LOCK TABLE "{model._meta.db_table}" IN SHARE ROW EXCLUSIVE MODE')
        yield


# --- the audit log -----------------------------------------------------------------------------------


def test_upstream_answers_in_the_audit_are_redacted_of_tokens_and_known_secrets():
    factories.key()
    factories.account()
    partner, token = demo.PARTNER_KEY.reveal(), demo.DATAFAST_TOKEN.reveal()
    answer = {
        "id": "int_1",
        "echo": partner,
        "nested": [{"header": f"Authorization: Bearer {'z' * 30}"}, f"token={token};"],
        partner: "as a key too",
    }
    entry = audit.record(factories.staff(), "integration.create", "integration int_1", upstream_answer=answer)
    stored = AuditEntry.objects.get(pk=entry.pk).upstream_answer
    assert "int_1" in stored and "Bearer ••••" in stored
    assert leaked(stored, partner, token, "z" * 30) == []
    text = audit.record(factories.viewer(), "x", "y", upstream_answer="x" * 490 + partner).upstream_answer
    assert leaked(text, partner) == [] and len(text) <= 500


def test_an_upstream_echoing_the_key_on_create_leaves_it_out_of_the_audit(sandbox, client):
    key = factories.key()
    assert poll_key(key.pk).ok
    client.force_login(factories.staff())
    partner = demo.PARTNER_KEY.reveal()
    body = {
        "id": "int_echo_1",
        "organisation_id": demo.ACME_ORG,
        "name": "Echo",
        "type": "CUSTOM_ORDERS",
        "status": "ENABLED",
        "merchant_ids": ["mrch_acme_us"],
        "received_headers": {"Authorization": f"Bearer {partner}"},
        "debug": partner,
    }
    sandbox.state.faults.add("/v1/integrations/", kind="status", status=201, body=body, method="POST", times=1)
    data = {
        "key": key.pk,
        "organisation_id": demo.ACME_ORG,
        "name": "Echo",
        "status": "ENABLED",
        "merchant_ids": "mrch_acme_us",
        "submission": str(uuid.uuid4()),
    }
    assert client.post(reverse("integration-create"), data).status_code == 302
    entry = AuditEntry.objects.get(action="integration.create", ok=True)
    assert "int_echo_1" in entry.upstream_answer
    assert leaked(entry.upstream_answer, partner) == []
