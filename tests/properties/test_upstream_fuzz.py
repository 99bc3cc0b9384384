"""Upstream answers fuzzed: wrong types, nulls, extra and missing fields, huge arrays, deep nesting,
long and unstorable strings, bytes that are not UTF-8.

Whatever arrives, the parsers raise `SchemaError` or return a result the dashboard can store and
show; nothing else, ever. In process first (cheap, many examples), then through real HTTP: the
sandbox's `status` fault answers 200 with the fuzzed body, and a tiny raw server sends bytes no
JSON encoder would produce. A poll that meets a schema error records it and changes no state.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.utils.timezone import is_aware
from hypothesis import given
from hypothesis import strategies as st

from integrations_app.chargebackstop.client import (
    INTEGRATIONS,
    STATUSES,
    ChargebackStopClient,
    Integration,
    _parse_page,
    parse_integration,
)
from integrations_app.datafast.client import PROVIDERS, DataFastClient, WebsiteIntegrations, parse_integrations
from integrations_app.models import (
    Integration as IntegrationRow,
)
from integrations_app.models import (
    KeyOrganisation,
    Organisation,
    PollAttempt,
    ProviderState,
    Snapshot,
    StatusChange,
)
from integrations_app.upstream.errors import SchemaError
from integrations_app.upstream.secret import Secret
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key, poll_site
from tests.properties import examples, rolled_back

DATAFAST_PATH = "/api/v1/admin/websites/"
CHARGEBACKSTOP_PATH = "/v1/integrations/"

# The documented answers (docs/datafast-get-integrations.md, docs/chargebackstop-integrations.md).
DATAFAST_ANSWER: dict[str, Any] = {
    "status": "success",
    "data": [
        {
            "stripe": {"connected": True},
            "lemonsqueezy": {"connected": False},
            "polar": {"connected": False},
            "paddle": {"connected": False, "keyExpiresAt": None},
            "shopify": {"connected": False},
            "woocommerce": {"connected": False},
            "currency": "USD",
        }
    ],
}
INTEGRATION: dict[str, Any] = {
    "id": "int_abc123",
    "organisation_id": "org_xyz456",
    "name": "Orders API Integration",
    "type": "CUSTOM_ORDERS",
    "status": "ENABLED",
    "merchant_ids": ["mrch_111", "mrch_222"],
    "links": [{"rel": "self", "uri": "/v1/integrations/int_abc123"}],
}
LISTING: dict[str, Any] = {
    "items": [INTEGRATION, {**INTEGRATION, "id": "int_def789", "name": "Stripe Main", "type": "STRIPE"}],
    "count": 2,
}

# Column sizes the answers end up in (integrations_app/chargebackstop/models.py).
STORED_LENGTHS = {"id": 100, "organisation_id": 100, "name": 255, "type": 40}


# --- strategies ----------------------------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


# Text a JSON decoder can hand over: any code point, lone surrogates (from "\ud800") and NUL included.
UPSTREAM_TEXT = st.text(
    st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from("\x00\n\t\u202e")), max_size=20
)
TRICKY_VALUES = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        2**31,
        2**64,
        1.5,
        1e308,
        float("nan"),
        float("inf"),
        "",
        " ",
        "\x00",
        "\ud800",
        "x" * 101,
        "x" * 256,
        "x" * 10_000,
        "USD\n",
        "usd",
        "US",
        "EURO",
        "ENABLED",
        "DISABLED",
        "enabled",
        "CUSTOM_ORDERS",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00:00+14:00",
        "2026-02-30T00:00:00Z",
        "2026-06-01",
        "2026-06-01T12:00:00",
        "2026-06-01T12:00:00+99:00",
        [],
        {},
        [None],
        [""],
        ["\x00"],
        ["x" * 300],
        [0] * 10_000,
        [{}] * 2_000,
        nested(50),
        nested(200),
        {"connected": True},
        {"connected": "true"},
        {"connected": 1},
    ]
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), UPSTREAM_TEXT
)
JSON_VALUES = st.one_of(
    TRICKY_VALUES,
    st.recursive(
        JSON_SCALARS,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(UPSTREAM_TEXT, inner, max_size=4)),
        max_leaves=10,
    ),
)


def spots(document: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON document."""
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                yield node, key
                stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node[:50]):  # a huge array: its first entries are enough
                yield node, index
                stack.append(value)


@st.composite
def mutations_of(draw: st.DrawFn, document: Any) -> Any:
    """The document with one to three changes: a value replaced (wrong type, null, tricky value),
    a field deleted, or an extra field or item added."""
    changed = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        places = list(spots(changed))
        if not places:
            break
        container, key = draw(st.sampled_from(places))
        how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        value = copy.deepcopy(draw(JSON_VALUES))  # the tricky values are shared: never change them
        if how == "replace":
            container[key] = value
        elif how == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(UPSTREAM_TEXT)] = value
        else:
            container.append(value)
    return changed


def answers_like(document: Any) -> st.SearchStrategy[Any]:
    """Mostly near misses of the documented answer; sometimes the answer itself or anything at all."""
    return st.one_of(mutations_of(document), mutations_of(document), st.just(document), JSON_VALUES.map(copy.deepcopy))


# --- what a usable result is ---------------------------------------------------------------------


def storable(text: str) -> bool:
    """A database column can hold it: no NUL (PostgreSQL refuses it), and valid UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def assert_usable_website(result: WebsiteIntegrations) -> None:
    assert isinstance(result, WebsiteIntegrations)
    assert list(result.connected) == list(PROVIDERS)
    assert all(type(value) is bool for value in result.connected.values())
    assert re.fullmatch(r"[A-Z]{3}", result.currency), result.currency
    expires = result.paddle_key_expires_at
    if expires is not None:
        assert is_aware(expires)
        expires.astimezone(UTC)  # a UTC instant: what the database stores and the pages compare
    json.dumps(result.as_snapshot(), allow_nan=False)


def assert_usable_integration(item: Integration) -> None:
    assert isinstance(item, Integration)
    for field, limit in STORED_LENGTHS.items():
        value = getattr(item, field)
        assert isinstance(value, str) and len(value) <= limit and storable(value), (field, value[:50])
        assert value or field == "name", field
    assert item.status in STATUSES
    assert isinstance(item.merchant_ids, tuple)
    assert all(isinstance(merchant, str) and storable(merchant) for merchant in item.merchant_ids)


def outcome_of(parse: Any, payload: Any) -> Any:
    """The parser's result, or None for a SchemaError; any other exception fails the test."""
    try:
        return parse(payload)
    except SchemaError as error:
        assert error.message, "a schema error that says nothing"
        return None


# --- the parsers, in process ---------------------------------------------------------------------


@examples(200)
@given(payload=answers_like(DATAFAST_ANSWER))
def test_parse_integrations_returns_a_usable_answer_or_a_schema_error(payload):
    result = outcome_of(parse_integrations, payload)
    if result is not None:
        assert_usable_website(result)


@examples(200)
@given(item=answers_like(INTEGRATION))
def test_parse_integration_returns_a_usable_integration_or_a_schema_error(item):
    result = outcome_of(parse_integration, item)
    if result is not None:
        assert_usable_integration(result)


@examples(200)
@given(page=answers_like(LISTING))
def test_the_listing_parser_returns_usable_pages_or_a_schema_error(page):
    result = outcome_of(lambda answer: _parse_page(answer, INTEGRATIONS), page)
    if result is not None:
        assert type(result.count) is int and result.count >= 0
        for item in result.items:
            assert_usable_integration(item)
        assert all(isinstance(named, str) and named.isprintable() for named in result.bad)


def test_the_documented_examples_parse() -> None:
    assert_usable_website(parse_integrations(DATAFAST_ANSWER))
    page = _parse_page(LISTING, INTEGRATIONS)
    assert page.count == 2 and [item.id for item in page.items] == ["int_abc123", "int_def789"]
    assert page.bad == []


# --- through real HTTP: bytes from a raw server --------------------------------------------------


class RawAnswers(ThreadingHTTPServer):
    """Answers every GET with 200 and whatever bytes it holds."""

    daemon_threads = True
    body = b""


class RawHandler(BaseHTTPRequestHandler):
    server: RawAnswers

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.server.body)))
        self.end_headers()
        self.wfile.write(self.server.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawAnswers]:
    server = RawAnswers(("127.0.0.1", 0), RawHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def as_json_bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


RAW_BODIES = st.one_of(
    st.binary(max_size=200),
    answers_like(DATAFAST_ANSWER).map(as_json_bytes),
    answers_like(LISTING).map(as_json_bytes),
    answers_like(INTEGRATION).map(as_json_bytes),
    st.sampled_from(
        [
            b"",
            b"\xff\xfe\x00",
            b'{"status": "success", "data": [{"stripe": "\xff\xfe"}]}',
            json.dumps(DATAFAST_ANSWER).encode("utf-16"),
            json.dumps(LISTING).encode("utf-32"),
            json.dumps(INTEGRATION).replace("Orders", "Ordres \u00e9").encode("latin-1"),
            b"[" * 100_000 + b"]" * 100_000,
            b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
            b"[" + b"0," * 200_000 + b"0]",
            b'{"count": ' + b"9" * 5000 + b', "items": []}',
            b"NaN",
            b'"\\ud800"',
        ]
    ),
)


@pytest.fixture
def no_retries(settings: Any) -> None:
    settings.UPSTREAM_RETRIES = 0


@examples(60)
@given(body=RAW_BODIES)
def test_any_bytes_from_datafast_become_a_usable_answer_or_a_schema_error(raw_server, no_retries, body):
    raw_server.body = body
    client = DataFastClient(Secret("dft_fuzz_token"), base_url=f"http://127.0.0.1:{raw_server.server_port}")
    result = outcome_of(client.website_integrations, "6650a1f2c4e8b90012ab3401")
    if result is not None:
        assert_usable_website(result)


@examples(60)
@given(body=RAW_BODIES)
def test_any_bytes_from_chargebackstop_become_usable_integrations_or_a_schema_error(raw_server, no_retries, body):
    raw_server.body = body
    client = ChargebackStopClient(Secret("cbs_fuzz_key"), base_url=f"http://127.0.0.1:{raw_server.server_port}")
    listing = outcome_of(lambda _: client.list_integrations(max_pages=1), None)
    if listing is not None:
        for item in listing.integrations:
            assert_usable_integration(item)
    single = outcome_of(client.get_integration, "int_abc123")
    if single is not None:
        assert_usable_integration(single)


# --- through real HTTP: the sandbox's status fault -----------------------------------------------


def fault_body(document: Any) -> dict[str, Any] | str:
    """The fault sends a dict as JSON and a str as text; anything else goes as its JSON text."""
    return document if isinstance(document, dict) else json.dumps(document)


@examples(30)
@given(document=answers_like(DATAFAST_ANSWER))
def test_the_datafast_client_over_http_returns_a_usable_answer_or_a_schema_error(sandbox, document):
    sandbox.state.faults.add(DATAFAST_PATH, kind="status", status=200, body=fault_body(document), times=1)
    result = outcome_of(DataFastClient(demo.DATAFAST_TOKEN).website_integrations, demo.ACME_STORE)
    if result is not None:
        assert_usable_website(result)


@examples(30)
@given(document=answers_like(LISTING))
def test_the_chargebackstop_client_over_http_returns_usable_integrations_or_a_schema_error(sandbox, document):
    sandbox.state.faults.add(CHARGEBACKSTOP_PATH, kind="status", status=200, body=fault_body(document), times=1)
    listing = outcome_of(lambda _: ChargebackStopClient(demo.PARTNER_KEY).list_integrations(max_pages=1), None)
    if listing is not None:
        for item in listing.integrations:
            assert_usable_integration(item)


# --- polls ---------------------------------------------------------------------------------------


def wire(document: Any) -> Any:
    """What the client decodes from the fault's body."""
    return json.loads(json.dumps(document))


def site_state(site_pk: int) -> list[Any]:
    from integrations_app.models import DataFastSite

    site = DataFastSite.objects.get(pk=site_pk)
    return [
        (site.health, site.currency, site.paddle_key_expires_at, site.paddle_expiry_state, site.last_success_at),
        list(ProviderState.objects.filter(site=site).order_by("provider").values_list()),
        list(Snapshot.objects.order_by("pk").values_list()),
        list(StatusChange.objects.order_by("pk").values_list()),
    ]


def key_state(key_pk: int) -> list[Any]:
    from integrations_app.models import ChargebackStopKey

    key = ChargebackStopKey.objects.get(pk=key_pk)
    return [
        (key.health, key.last_success_at),
        list(IntegrationRow.objects.order_by("pk").values_list()),
        list(Organisation.objects.order_by("pk").values_list()),
        list(KeyOrganisation.objects.order_by("pk").values_list()),
        list(Snapshot.objects.order_by("pk").values_list()),
        list(StatusChange.objects.order_by("pk").values_list()),
    ]


@pytest.fixture
def polled_site(sandbox: Any) -> int:
    site = factories.site()
    assert poll_site(site.pk).ok
    return site.pk


@pytest.fixture
def polled_key(sandbox: Any) -> int:
    key = factories.key()
    assert poll_key(key.pk).ok
    return key.pk


@pytest.mark.django_db
@examples(30)
@given(document=answers_like(DATAFAST_ANSWER))
def test_a_datafast_poll_that_meets_a_schema_error_records_it_and_changes_nothing(sandbox, polled_site, document):
    schema_error = outcome_of(parse_integrations, wire(document)) is None
    with rolled_back():
        before = site_state(polled_site)
        sandbox.state.faults.add(DATAFAST_PATH, kind="status", status=200, body=fault_body(document), times=1)
        outcome = poll_site(polled_site)
        attempt = present(PollAttempt.objects.filter(site_id=polled_site).first())
        if schema_error:
            assert (outcome.ok, outcome.error_kind, outcome.changes) == (False, "schema", [])
            assert (attempt.ok, attempt.error_kind) == (False, "schema")
            assert site_state(polled_site) == before
        else:
            assert outcome.ok and attempt.ok


@pytest.mark.django_db
@examples(30)
@given(document=answers_like(LISTING))
def test_a_chargebackstop_poll_that_meets_a_schema_error_records_it_and_changes_nothing(sandbox, polled_key, document):
    schema_error = outcome_of(lambda answer: _parse_page(answer, INTEGRATIONS), wire(document)) is None
    with rolled_back():
        before = key_state(polled_key)
        sandbox.state.faults.add(
            CHARGEBACKSTOP_PATH, kind="status", status=200, body=fault_body(document), method="GET", times=1
        )
        outcome = poll_key(polled_key)
        attempt = present(PollAttempt.objects.filter(key_id=polled_key).first())
        if schema_error:
            assert (outcome.ok, outcome.error_kind, outcome.changes) == (False, "schema", [])
            assert (attempt.ok, attempt.error_kind) == (False, "schema")
            assert key_state(polled_key) == before
        else:
            assert outcome.ok and attempt.ok


def datafast_answer_with(**changes: Any) -> str:
    return json.dumps({**DATAFAST_ANSWER, "data": [{**DATAFAST_ANSWER["data"][0], **changes}]})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        datafast_answer_with(currency="USD\n"),
        datafast_answer_with(paddle={"connected": True, "keyExpiresAt": "9999-12-31T23:59:59-12:00"}),
    ],
    ids=["deeply nested", "currency with a line break", "expiry beyond the last storable instant"],
)
def test_answers_that_once_broke_a_datafast_poll_are_schema_errors(sandbox, polled_site, body):
    before = site_state(polled_site)
    sandbox.state.faults.add(DATAFAST_PATH, kind="status", status=200, body=body, times=1)
    outcome = poll_site(polled_site)
    assert (outcome.ok, outcome.error_kind) == (False, "schema")
    assert site_state(polled_site) == before
    assert present(PollAttempt.objects.filter(site_id=polled_site).first()).error_kind == "schema"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        *({"name": "n" * 256}, {"id": "i" * 101}, {"organisation_id": "o" * 101}, {"type": "T" * 41}),
        *({"name": "a\x00b"}, {"merchant_ids": ["m\x00"]}, {"name": "\ud800"}),
    ],
    ids=["long name", "long id", "long organisation id", "long type", "NUL in name", "NUL in merchant", "surrogate"],
)
def test_integrations_the_database_cannot_hold_are_skipped_and_named(sandbox, polled_key, change):
    """Once a schema error for the whole listing; now the item alone is skipped (issue 9, section 8)."""
    before = list(IntegrationRow.objects.order_by("pk").values_list())
    body = {**LISTING, "items": [{**INTEGRATION, **change}], "count": 1}
    sandbox.state.faults.add(CHARGEBACKSTOP_PATH, kind="status", status=200, body=body, method="GET", times=1)
    outcome = poll_key(polled_key)
    assert outcome.ok
    assert list(IntegrationRow.objects.order_by("pk").values_list()) == before
    assert "1 unreadable, skipped: " in present(PollAttempt.objects.filter(key_id=polled_key).first()).message


@pytest.mark.django_db
def test_a_stored_credential_no_header_can_carry_fails_the_poll_as_a_credential(sandbox):
    """The forms refuse such a token; one stored another way (the admin) must not crash the poll."""
    site = factories.site()
    site.account.set_secret("dft_\u20ac_pasted_with_a_euro_sign")
    site.account.save()
    outcome = poll_site(site.pk)
    assert (outcome.ok, outcome.error_kind) == (False, "credential")
    assert PollAttempt.objects.get(site=site).error_kind == "credential"
