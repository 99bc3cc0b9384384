"""Secrets never leak: one representative session, then a scan of everything it left behind.

The session registers credentials through the pages, the admin and the commands, polls while the
upstreams answer with error bodies that echo the credential back, sends the resulting alerts to a
real SMTP server, presses every button, renders every page (the admin's too, error pages included)
and makes the clients raise every kind of error. Meanwhile every log record is kept (the root
logger at DEBUG, SQL included). Then every response, log line, email part, command output, the
`repr()` of every model instance and client exception, a `dumpdata`, and the raw database (the
SQLite file's bytes, or every PostgreSQL table as text) are searched for each secret, and for any
12 characters in a row of one (a secret cut short is still a leak).

Committed data is needed to find it in the SQLite file, so this test runs with `transactional_db`.
"""

from __future__ import annotations

import io
import logging
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils.log import AdminEmailHandler

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.chargebackstop import actions
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.client import DataFastClient
from integrations_app.datafast.poller import poll_site
from integrations_app.models import (
    Alert,
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Integration,
    Organisation,
)
from integrations_app.upstream import http_async
from integrations_app.upstream.errors import UpstreamError
from integrations_app.views import context as broker_context
from sandbox.scenarios import DEMO
from tests import demo, factories
from tests.factories import present

DEMO_SECRETS = [token["token"] for token in DEMO["datafast"]["tokens"]] + [
    key["key"] for key in DEMO["chargebackstop"]["keys"]
]
NEW_TOKEN = "dft_leakcheck_7c1e94b2d05a4f8e"
REPLACEMENT_TOKEN = "dft_leakcheck_replacement_31f0a9"
REFUSED_FORM_TOKEN = "dft_leakcheck_refused_form_52b8d7"
ADMIN_TOKEN = "dft_leakcheck_admin_e6a2c9f104"
COMMAND_TOKEN = "dft_leakcheck_command_4d7f0b2e91"
FORCED_ERROR_TOKEN = "dft_leakcheck_forced_error_8a3c5e"
NEW_KEY = "cbs_leakcheck_b93d0e1f67a2c845"
REPLACEMENT_KEY = "cbs_leakcheck_replacement_0e5c7a"
NEW_SECRETS = [
    NEW_TOKEN,
    REPLACEMENT_TOKEN,
    REFUSED_FORM_TOKEN,
    ADMIN_TOKEN,
    COMMAND_TOKEN,
    FORCED_ERROR_TOKEN,
    NEW_KEY,
    REPLACEMENT_KEY,
]
SECRETS = DEMO_SECRETS + NEW_SECRETS
WINDOW = 12  # this many characters of a secret in a row count as a leak; a masked hint shows 4

DATAFAST = "/api/v1/admin/websites/"
CHARGEBACKSTOP = "/v1/integrations/"


@dataclass
class Evidence:
    """Everything the session produced, as (where, text) pairs."""

    texts: list[tuple[str, str]] = field(default_factory=list)

    def add(self, where: str, text: object) -> None:
        self.texts.append((where, text if isinstance(text, str) else repr(text)))


def fragments(secret: str) -> list[str]:
    return [secret[start : start + WINDOW] for start in range(len(secret) - WINDOW + 1)]


def leaks(texts: list[tuple[str, str]]) -> list[str]:
    """Where a secret (or WINDOW characters of one) appears, with the text around it; the secret
    itself is shown as `«secret #n»`, so a failing test does not print it."""
    found = []
    for where, text in texts:
        for number, secret in enumerate(SECRETS):
            if piece := next((piece for piece in fragments(secret) if piece in text), None):
                at = text.index(piece)
                around = text[max(0, at - 120) : at + 40].replace(piece, f"«secret #{number}»")
                found.append(f"{where}: …{around}…")
    return found


# --- capturing ---------------------------------------------------------------------------------


class KeepEverything(logging.Handler):
    def __init__(self, evidence: Evidence) -> None:
        super().__init__(logging.DEBUG)
        self.evidence = evidence
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        # The formatted line with any traceback, and every attribute (args, extra, request) as repr.
        self.evidence.add(f"log {record.name}", f"{self.format(record)}\n{vars(record)!r}")


@pytest.fixture
def every_log_record() -> Iterator[Evidence]:
    """Every logger at DEBUG (SQL included), each record kept, whatever its logger's handlers."""
    evidence = Evidence()
    keeper = KeepEverything(evidence)
    root = logging.getLogger()
    loggers = [root] + [
        logger for logger in logging.root.manager.loggerDict.values() if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    # The other handlers (the console's, pytest's) would print every SQL line: mute them meanwhile.
    others = {handler: handler.level for logger in loggers for handler in logger.handlers}
    for handler in others:
        handler.setLevel(logging.CRITICAL + 1)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.disabled = False
        if logger is root or not logger.propagate:
            logger.addHandler(keeper)
    connection.force_debug_cursor = True  # SQL and its parameters are logged, as with DEBUG
    yield evidence
    connection.force_debug_cursor = False
    for logger, level, disabled in saved:
        logger.setLevel(level)
        logger.disabled = disabled
        if keeper in logger.handlers:
            logger.removeHandler(keeper)
    for handler, level in others.items():
        handler.setLevel(level)


class RecordingClient(Client):
    """The test client, keeping every response: status line, headers (cookies too) and body."""

    def __init__(self, evidence: Evidence, **defaults: Any) -> None:
        super().__init__(**defaults)
        self.evidence = evidence

    def request(self, **request: Any) -> Any:
        response = super().request(**request)
        where = f"{request['REQUEST_METHOD']} {request['PATH_INFO']} ({response.status_code})"
        self.evidence.add(where, f"{response.serialize_headers().decode('latin-1')}\n{response.content.decode()}")
        return response


def command(evidence: Evidence, name: str, *args: str, stdin: str = "") -> None:
    """Run a command with `stdin`; its output, or its refusal, is evidence."""
    out, err, saved = io.StringIO(), io.StringIO(), sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        call_command(name, *args, stdout=out, stderr=err)
    except CommandError as error:
        evidence.add(f"command {name} refused", f"{error!s} {error!r}")
    finally:
        sys.stdin = saved
    evidence.add(f"command {name} output", out.getvalue() + err.getvalue())


def echo(secret: str) -> dict[str, Any]:
    """Error bodies that send the credential back, whole, as the code, and straddling the cut
    at 300 characters where messages are shortened."""
    return {
        "datafast": {"status": "error", "error": {"code": secret, "message": "x" * 280 + secret}},
        "chargebackstop": {"errors": [{"code": secret, "message": "x" * 280 + secret, "field": secret}]},
    }


def raw_database() -> list[tuple[str, str]]:
    """The database as stored: the SQLite file's bytes (and its WAL), or every table as text."""
    if connection.vendor == "sqlite":
        path = Path(connection.settings_dict["NAME"])
        files = [path, path.with_name(path.name + "-wal")]
        return [(f"database file {file.name}", file.read_bytes().decode("latin-1")) for file in files if file.exists()]
    dumped = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (table names from the schema)
            dumped.append((f"table {table}", repr(cursor.fetchall())))
    return dumped


# --- the session ---------------------------------------------------------------------------------


def register_credentials(staff: RecordingClient, evidence: Evidence) -> None:
    """Through the pages, the admin and the commands; including refused forms that carried a secret."""
    staff.post(reverse("account-create"), {"name": "Acme Holdings", "secret": demo.DATAFAST_TOKEN.reveal()})
    staff.post(reverse("account-create"), {"name": "Spare", "secret": NEW_TOKEN})
    staff.post(reverse("account-create"), {"name": "", "secret": REFUSED_FORM_TOKEN})  # re-rendered, refused
    spare = DataFastAccount.objects.get(name="Spare")
    staff.post(reverse("account-edit", args=[spare.pk]), {"name": "Spare", "secret": REPLACEMENT_TOKEN})
    acme = DataFastAccount.objects.get(name="Acme Holdings")
    for account, website_id, name in ((acme, demo.ACME_STORE, "Acme Store"), (spare, demo.DELTA_DESIGN, "Delta")):
        staff.post(
            reverse("site-create"), {"account": account.pk, "name": name, "website_id": website_id, "enabled": "on"}
        )
    northwind = {"name": "Northwind", "level": "partner", "secret": demo.PARTNER_KEY.reveal(), "enabled": "on"}
    staff.post(reverse("key-create"), northwind)
    staff.post(reverse("key-create"), {**northwind, "name": "northwind", "secret": demo.GROUP_KEY.reveal()})
    staff.post(reverse("key-create"), {"name": "Spare key", "level": "partner", "secret": NEW_KEY, "enabled": "on"})
    spare_key = ChargebackStopKey.objects.get(name="Spare key")
    staff.post(
        reverse("key-edit", args=[spare_key.pk]),
        {"name": "Spare key", "level": "partner", "secret": REPLACEMENT_KEY, "enabled": "on"},
    )
    staff.post(
        reverse("admin:integrations_app_datafastaccount_change", args=[spare.pk]),
        {"name": "Spare", "new_secret": ADMIN_TOKEN},
    )
    staff.post(reverse("admin:integrations_app_datafastaccount_add"), {"name": "", "new_secret": ADMIN_TOKEN})
    other = demo.OTHER_DATAFAST_TOKEN.reveal()
    command(evidence, "add_datafast_site", "--name=Harbor", f"--website-id={demo.HARBOR_HARDWARE}", stdin=other)
    command(evidence, "add_datafast_site", "--name=Bad", "--website-id=nothex", "--account=New", stdin=COMMAND_TOKEN)
    command(
        evidence,
        "add_chargebackstop_key",
        "--name=Acme only",
        "--level=organisation",
        f"--organisation-id={demo.ACME_ORG}",
        stdin=demo.ORGANISATION_KEY.reveal(),
    )
    command(evidence, "add_chargebackstop_key", "--name=Northwind", "--level=partner", stdin=demo.GROUP_KEY.reveal())
    assert DataFastSite.objects.count() == 3 and ChargebackStopKey.objects.count() == 3


def poll_through_echoing_faults(sandbox: Any, evidence: Evidence) -> None:
    """A good poll of everything first (so that failures after it alert), then each source meets
    an upstream that sends its own credential back in the error body."""
    command(evidence, "poll", "--sync")
    faults = sandbox.state.faults
    sites = {site.website_id: site for site in DataFastSite.objects.select_related("account")}
    for website_id, status in ((demo.ACME_STORE, 401), (demo.HARBOR_HARDWARE, 500), (demo.DELTA_DESIGN, 429)):
        token = sites[website_id].account.secret.reveal()
        faults.add(f"{DATAFAST}{website_id}", kind="status", status=status, body=echo(token)["datafast"], times=3)
        poll_site(sites[website_id].pk)
        faults.clear()
    faults.add(
        f"{DATAFAST}{demo.ACME_STORE}", kind="status", status=503, body="upstream says " + "y" * 290, times=3
    )  # a text body
    for key, status in zip(ChargebackStopKey.objects.order_by("pk"), (401, 500, 403), strict=True):
        body = echo(key.secret.reveal())["chargebackstop"]
        faults.add(CHARGEBACKSTOP, kind="status", status=status, body=body, method="GET", times=3)
        poll_key(key.pk)
        faults.clear()
    command(evidence, "poll", "--sync")
    send_pending_alerts(wait=False)


def press_every_button(staff: RecordingClient, sandbox: Any) -> None:
    """Test connection, poll now, create, rename and disable, each while the upstream echoes."""
    faults = sandbox.state.faults
    faults.clear()
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    northwind = ChargebackStopKey.objects.get(name="Northwind")
    token, key = demo.DATAFAST_TOKEN.reveal(), demo.PARTNER_KEY.reveal()
    faults.add(DATAFAST, kind="status", status=500, body=echo(token)["datafast"], times=3)
    staff.post(reverse("site-test", args=[acme.pk]), follow=True)
    faults.add(CHARGEBACKSTOP, kind="status", status=429, retry_after=0, body=echo(key)["chargebackstop"], times=3)
    staff.post(reverse("key-test", args=[northwind.pk]), follow=True)
    faults.clear()
    staff.post(reverse("site-poll", args=[acme.pk]), follow=True)
    staff.post(reverse("key-poll", args=[northwind.pk]), follow=True)
    faults.add(CHARGEBACKSTOP, kind="status", status=422, body=echo(key)["chargebackstop"], method="POST", times=1)
    staff.post(
        reverse("integration-create"),
        {
            "key": northwind.pk,
            "organisation_id": demo.ACME_ORG,
            "name": "Leak check",
            "status": "ENABLED",
            "merchant_ids": "mrch_acme_us",
            "submission": "7f0c8a2e-1d4b-4c6e-9a3f-5b2d8e1c0a47",
        },
    )
    orders = Integration.objects.select_related("seen_by").get(integration_id=demo.ACME_ORDERS)
    key = actions.key_for(orders).secret.reveal()  # the key the change is sent with, which an upstream can echo
    body = {"errors": [{"code": "VALIDATION_ERROR", "message": key, "field": "name"}]}
    faults.add(f"{CHARGEBACKSTOP}{demo.ACME_ORDERS}", kind="status", status=400, body=body, method="PATCH", times=1)
    staff.post(reverse("integration-rename", args=[orders.pk]), {"name": "Renamed"})
    faults.add(f"{CHARGEBACKSTOP}{demo.ACME_ORDERS}", kind="status", status=500, body=key, method="PATCH", times=1)
    staff.post(reverse("integration-disable", args=[orders.pk]), follow=True)
    faults.clear()


def every_page() -> list[str]:
    pages = [
        reverse(name)
        for name in ("overview", "alerts", "audit", "credentials", "account-create", "site-create", "key-create")
    ]
    pages += [reverse(name) for name in ("integration-create", "status-json", "healthz", "password_change")]
    pages += [reverse("overview") + "?fragment=live", reverse("audit") + "?action=integration.create"]
    for account in DataFastAccount.objects.all():
        pages += [reverse("account-edit", args=[account.pk]), reverse("account-delete", args=[account.pk])]
    for site in DataFastSite.objects.all():
        pages += [reverse(name, args=[site.pk]) for name in ("site-detail", "site-edit", "site-delete")]
    for key in ChargebackStopKey.objects.all():
        pages += [reverse(name, args=[key.pk]) for name in ("key-detail", "key-edit", "key-delete")]
    pages += [reverse("organisation-detail", args=[pk]) for pk in Organisation.objects.values_list("pk", flat=True)]
    for pk in Integration.objects.values_list("pk", flat=True):
        pages += [reverse(name, args=[pk]) for name in ("integration-detail", "integration-rename")]
        pages.append(reverse("integration-disable", args=[pk]))
    return pages


def admin_pages() -> list[str]:
    """Every model's list and the change page of its newest row; for the two that hold a secret,
    every row's change, history and delete pages, and the add page."""
    pages = [reverse("admin:index")]
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        pages.append(reverse(f"{prefix}_changelist"))
        rows = model._default_manager.order_by("-pk").values_list("pk", flat=True)
        if model in (DataFastAccount, ChargebackStopKey):
            pages.append(reverse(f"{prefix}_add"))
            for pk in rows:
                pages += [reverse(f"{prefix}_{page}", args=[pk]) for page in ("change", "history", "delete")]
        elif pk := rows.first():
            pages.append(reverse(f"{prefix}_change", args=[pk]))
    return pages


def render_everything(staff: RecordingClient, viewer: RecordingClient, evidence: Evidence) -> None:
    for url in every_page():
        staff.get(url, follow=True)
    for name in ("overview", "alerts", "audit", "credentials"):  # a viewer's view, and a 403
        viewer.get(reverse(name))
    viewer.get(present(DataFastSite.objects.first()).get_absolute_url())
    for url in admin_pages():
        staff.get(url)
    staff.get("/sites/999999/")  # 404
    staff.get(reverse("site-test", args=[present(DataFastSite.objects.first()).pk]))  # 405
    RecordingClient(evidence).get(reverse("credentials"), follow=True)  # anonymous: to the login page
    RecordingClient(evidence).post(reverse("login"), {"username": "root", "password": NEW_TOKEN})
    careful = RecordingClient(evidence, enforce_csrf_checks=True)
    careful.force_login(User.objects.get(username="root"))
    careful.post(reverse("key-create"), {"name": "x", "level": "partner", "secret": NEW_KEY})  # CSRF 403


def force_server_errors(evidence: Evidence, settings: Any) -> None:
    """With Django's error mail on, forms that carry a secret fail with a 500 (no encryption key
    to save it with): the error email, with its POST data, traceback and settings, goes to the sink."""
    settings.ADMINS = [("errors", "errors@example.com")]
    mailer = next(handler for handler in logging.getLogger("django").handlers if isinstance(handler, AdminEmailHandler))
    muted, keys = mailer.level, settings.FIELD_ENCRYPTION_KEYS
    mailer.setLevel(logging.ERROR)  # every_log_record mutes the other handlers; this one is evidence
    settings.FIELD_ENCRYPTION_KEYS = []
    failing = RecordingClient(evidence, raise_request_exception=False)
    failing.force_login(User.objects.get(username="root"))
    try:
        failing.post(reverse("account-create"), {"name": "Broken", "secret": FORCED_ERROR_TOKEN})
        failing.post(reverse("admin:integrations_app_datafastaccount_add"), {"name": "B", "secret": FORCED_ERROR_TOKEN})
        failing.post(
            reverse("key-create"), {"name": "Broken", "level": "partner", "secret": FORCED_ERROR_TOKEN, "enabled": "on"}
        )
    finally:
        settings.FIELD_ENCRYPTION_KEYS = keys
        mailer.setLevel(muted)


def client_errors(sandbox: Any, evidence: Evidence) -> None:
    """Each kind of error the clients raise, while the upstream echoes the credential."""
    faults = sandbox.state.faults
    token, key = demo.DATAFAST_TOKEN, demo.PARTNER_KEY
    cases = [(status, "datafast") for status in (400, 401, 403, 404, 429, 500)]
    cases += [(status, "chargebackstop") for status in (401, 404, 422, 503)]
    for status, upstream in cases:
        secret = token if upstream == "datafast" else key
        path = DATAFAST if upstream == "datafast" else CHARGEBACKSTOP
        faults.add(path, kind="status", status=status, retry_after=0, body=echo(secret.reveal())[upstream], times=3)
        try:
            if upstream == "datafast":
                DataFastClient(token).website_integrations(demo.ACME_STORE)
            else:
                ChargebackStopClient(key).create_integration(
                    organisation_id=demo.ACME_ORG, name="x", merchant_ids=["mrch_acme_us"]
                )
        except UpstreamError as error:
            describe_exception(evidence, f"{upstream} {status}", error)
        faults.clear()
    faults.add(DATAFAST, kind="status", status=200, body={"status": "success", "data": token.reveal()}, times=1)
    try:
        DataFastClient(token).website_integrations(demo.ACME_STORE)
    except UpstreamError as error:
        describe_exception(evidence, "datafast schema", error)
    evidence.add("clients", f"{DataFastClient(token)!r} {ChargebackStopClient(key)!r} {token!r} {key!s}")


def describe_exception(evidence: Evidence, where: str, error: BaseException) -> None:
    context: BaseException | None = error
    while context is not None:
        text = f"{context!r} {context!s} {context.args!r} {vars(context)!r}"
        evidence.add(f"exception {where}", text + "".join(traceback.format_exception(context)))
        context = context.__context__


def every_model_instance(evidence: Evidence) -> None:
    models: list[type[Model]] = [*apps.get_app_config("integrations_app").get_models(), User]
    for model in models:
        for instance in model._default_manager.all():
            evidence.add(f"repr {model.__name__}", f"{instance!r} {instance!s} {vars(instance)!r}")
    dumped = io.StringIO()
    call_command("dumpdata", "integrations_app", stdout=dumped)
    evidence.add("dumpdata", dumped.getvalue())


# --- the test ------------------------------------------------------------------------------------


@pytest.fixture
def broker(redis_clean: Any) -> Iterator[None]:
    broker_context._quick_client.cache_clear()
    broker_context._last.update(at=-1000.0, ok=1.0)
    yield
    broker_context._quick_client.cache_clear()


@pytest.mark.usefixtures("transactional_db", "broker")
def test_no_secret_appears_anywhere_a_session_leaves_traces(sandbox, smtp_sink, settings, every_log_record):
    settings.UPSTREAM_RETRY_AFTER_MAX = 0  # a retry still happens (and is logged), without the waits
    settings.UPSTREAM_RETRIES = 1
    evidence = every_log_record
    staff = RecordingClient(evidence)
    staff.force_login(User.objects.create_superuser("root", password="root-password-1"))
    viewer = RecordingClient(evidence)
    viewer.force_login(factories.viewer())

    register_credentials(staff, evidence)
    poll_through_echoing_faults(sandbox, evidence)
    press_every_button(staff, sandbox)
    render_everything(staff, viewer, evidence)
    force_server_errors(evidence, settings)
    client_errors(sandbox, evidence)
    every_model_instance(evidence)
    for message in smtp_sink.messages:
        parts = [f"{name}: {value}" for name, value in message.items()]
        parts += [str(part.get_content()) for part in message.walk() if not part.is_multipart()]
        evidence.add(f"email {message['Subject']}", "\n".join(parts))

    # The session did what it set out to do, so the scan below means something.
    assert Alert.objects.filter(status="sent").exists() and smtp_sink.messages
    error_mails = [message for message in smtp_sink.messages if "Internal Server Error" in message["Subject"]]
    assert len(error_mails) == 3 and all("ImproperlyConfigured" in str(message) for message in error_mails)
    assert {entry.split(" ")[0] for entry, _ in evidence.texts} >= {"log", "GET", "POST", "command", "email"}
    assert any("credential refused (HTTP 401)" in text for _, text in evidence.texts)
    assert leaks([("a planted line", "prefix " + NEW_KEY[3:20])]), "the scan would not see a leak"

    stored = raw_database()
    assert any("Spare key" in text and "gAAAA" in text for _, text in stored), "the rows are not in what is scanned"
    assert leaks(evidence.texts + stored) == []


def test_an_echoed_credential_arrives_and_is_masked(sandbox, settings):
    """What the scan relies on: the fault really sends the credential back, and it comes out masked."""
    token = demo.DATAFAST_TOKEN
    sandbox.state.faults.add(DATAFAST, kind="status", status=401, body=echo(token.reveal())["datafast"], times=1)
    with pytest.raises(UpstreamError) as refused:
        DataFastClient(token).website_integrations(demo.ACME_STORE)
    assert refused.value.message.endswith("x" * 40 + token.masked)
    assert refused.value.code == token.masked


@pytest.mark.parametrize("asynchronous", [False, True], ids=["requests", "aiohttp"])
@pytest.mark.parametrize("fault", [{"kind": "drop"}, {"kind": "status", "status": 503}])
def test_the_frames_of_a_failed_request_do_not_hold_the_token_in_clear(sandbox, settings, fault, asynchronous):
    """Django's error page and the admins' error email print every frame's locals with repr(): the
    objects the HTTP layer keeps while it asks (the attempt, the policy) show the token masked."""
    settings.UPSTREAM_RETRIES = 0
    token = demo.DATAFAST_TOKEN
    sandbox.state.faults.add(DATAFAST, **fault)
    client = DataFastClient(token)
    with pytest.raises(UpstreamError) as failed:
        if asynchronous:
            http_async.run(client.website_integrations_async(demo.ACME_STORE))
        else:
            client.website_integrations(demo.ACME_STORE)
    frames = traceback.TracebackException.from_exception(failed.value, capture_locals=True)
    text = "".join(frames.format())
    assert "request_sized" in text  # the frame that holds the attempt is in the report
    assert token.reveal() not in text
