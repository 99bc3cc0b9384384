from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from integrations_app.datafast.client import PROVIDERS, DataFastClient
from integrations_app.upstream.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    SchemaError,
    TransientError,
)
from integrations_app.upstream.secret import Secret
from tests import demo
from tests.ports import free_port

PATH = "/api/v1/admin/websites/"


@pytest.fixture
def client(sandbox) -> DataFastClient:
    return DataFastClient(demo.DATAFAST_TOKEN)


def test_it_reads_the_six_providers_currency_and_paddle_expiry(client):
    result = client.website_integrations(demo.ACME_STORE)
    assert list(result.connected) == list(PROVIDERS)
    assert result.connected["stripe"] is True
    assert result.connected["paddle"] is True
    assert result.connected["shopify"] is False
    assert result.currency == "USD"
    expires_in = result.paddle_key_expires_at - datetime.now(UTC)
    assert timedelta(days=4) < expires_in < timedelta(days=6)


def test_it_reports_a_paddle_key_without_expiry_as_none(client, sandbox):
    sandbox.state.set_paddle_expiry(demo.ACME_STORE, None)
    assert client.website_integrations(demo.ACME_STORE).paddle_key_expires_at is None


@pytest.mark.parametrize("expiry", ["0001-01-03T00:00:00.000Z", "1969-12-31T23:59:59Z"])
def test_a_paddle_expiry_before_1970_is_a_schema_error(client, sandbox, expiry):
    """Parsed, it is a date no key has, and fourteen days before year 1 is no date at all: refused
    here, so that recording it cannot fail later (the site would then never be recorded)."""
    entry: dict[str, object] = {provider: {"connected": True} for provider in PROVIDERS}
    entry["paddle"] = {"connected": True, "keyExpiresAt": expiry}
    hostile = {"status": "success", "data": [{**entry, "currency": "USD"}]}
    sandbox.state.faults.add(PATH, kind="status", status=200, body=hostile)
    with pytest.raises(SchemaError, match="outside the range of dates"):
        client.website_integrations(demo.ACME_STORE)


def test_a_paddle_expiry_at_the_end_of_9999_is_read(client, sandbox):
    entry: dict[str, object] = {provider: {"connected": True} for provider in PROVIDERS}
    entry["paddle"] = {"connected": True, "keyExpiresAt": "9999-12-31T23:59:59Z"}
    sandbox.state.faults.add(
        PATH, kind="status", status=200, body={"status": "success", "data": [{**entry, "currency": "USD"}]}
    )
    assert client.website_integrations(demo.ACME_STORE).paddle_key_expires_at == datetime(
        9999, 12, 31, 23, 59, 59, tzinfo=UTC
    )


def test_it_sees_a_provider_switched_off(client, sandbox):
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    assert client.website_integrations(demo.ACME_STORE).connected["stripe"] is False


def test_a_revoked_token_is_a_credential_error_401(client, sandbox):
    sandbox.state.revoke_token(demo.DATAFAST_TOKEN.reveal())
    with pytest.raises(CredentialError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.status == 401


def test_a_token_without_settings_read_is_a_credential_error_403(client, sandbox):
    sandbox.state.set_token_scopes(demo.DATAFAST_TOKEN.reveal(), [])
    with pytest.raises(CredentialError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.status == 403


def test_a_website_the_token_cannot_reach_is_a_credential_error_403(client):
    with pytest.raises(CredentialError) as caught:
        client.website_integrations(demo.NIMBUS_LABS)
    assert caught.value.status == 403


def test_an_unknown_website_is_not_found(client):
    with pytest.raises(NotFoundError) as caught:
        client.website_integrations(demo.UNKNOWN_WEBSITE)
    assert caught.value.status == 404


def test_a_website_id_that_is_not_an_object_id_is_an_invalid_request(client):
    with pytest.raises(InvalidRequestError) as caught:
        client.website_integrations("not-an-object-id")
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"kind": "malformed"}, SchemaError),
        ({"kind": "empty_data"}, SchemaError),
        ({"kind": "missing_field", "field": "data.0.stripe"}, SchemaError),
        ({"kind": "missing_field", "field": "data.0.currency"}, SchemaError),
        ({"kind": "status", "status": 500}, TransientError),
        ({"kind": "status", "status": 502}, TransientError),
        ({"kind": "drop"}, TransientError),
    ],
)
def test_each_fault_raises_its_typed_error(client, sandbox, fault, error):
    sandbox.state.faults.add(PATH, **fault)
    with pytest.raises(error):
        client.website_integrations(demo.ACME_STORE)


@pytest.mark.parametrize("status", [429, 503])
def test_it_retries_after_retry_after_and_then_succeeds(client, sandbox, status):
    sandbox.state.faults.add(PATH, kind="status", status=status, retry_after=1, times=1)
    result = client.website_integrations(demo.ACME_STORE)
    assert result.currency == "USD"
    assert sandbox.state.stats()["datafast"]["requests"] == 2


def test_a_hostile_retry_after_is_capped(client, sandbox, settings):
    settings.UPSTREAM_RETRY_AFTER_MAX = 1
    settings.UPSTREAM_RETRIES = 1
    sandbox.state.faults.add(PATH, kind="status", status=429, retry_after=3600)
    started = datetime.now(UTC)
    with pytest.raises(TransientError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.reason == "rate_limited"
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_a_slow_answer_is_a_transient_timeout(client, sandbox, settings):
    settings.UPSTREAM_READ_TIMEOUT = 0.3
    sandbox.state.faults.add(PATH, kind="latency", seconds=1.5)
    with pytest.raises(TransientError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.reason == "timeout"


def test_a_body_that_trickles_past_the_deadline_is_a_transient_timeout(client, sandbox, settings):
    settings.UPSTREAM_BODY_TIMEOUT = 1
    sandbox.state.faults.add(PATH, kind="trickle", seconds=30)
    started = datetime.now(UTC)
    with pytest.raises(TransientError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.reason == "timeout"
    assert datetime.now(UTC) - started < timedelta(seconds=5)


def test_a_refused_connection_is_transient(settings):
    settings.UPSTREAM_RETRIES = 0
    client = DataFastClient(demo.DATAFAST_TOKEN, base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.reason == "connection"


def test_the_token_never_shows_in_repr_errors_or_logs(sandbox, caplog):
    token = demo.DATAFAST_TOKEN.reveal()
    client = DataFastClient(demo.DATAFAST_TOKEN)
    caplog.set_level(logging.DEBUG)
    sandbox.state.faults.add(PATH, kind="status", status=500, body={"status": "error", "error": {"message": token}})
    with pytest.raises(TransientError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert token not in repr(client)
    assert token not in str(caught.value)
    assert token not in repr(caught.value.args)
    assert token not in caplog.text
    assert token not in repr(Secret(token)) and token not in str(Secret(token))


def test_a_schema_error_carries_the_answers_status(client, sandbox):
    sandbox.state.faults.add(PATH, kind="missing_field", field="data.0.stripe")
    with pytest.raises(SchemaError) as caught:
        client.website_integrations(demo.ACME_STORE)
    assert caught.value.status == 200
