"""Whatever text upstream sends, everything written from it fits its column, on SQLite and PostgreSQL.

SQLite stores a string of any length in a `varchar(n)`; PostgreSQL refuses it and aborts the
transaction, so a test that only runs on SQLite proves nothing: the CI runs these on both. The
examples go to the maximal lengths the parsers let through (and past them where a message is
built around the text), with any character the JSON can carry.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.apps import apps
from django.db import models
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from integrations_app.alerts.batching import batch_pending
from integrations_app.alerts.emails import build_message
from integrations_app.chargebackstop.client import NAME_MAX_LENGTH
from integrations_app.models import Health, Integration, PollAttempt, StatusChange
from integrations_app.polling.outcome import record_failure
from integrations_app.text import fit
from integrations_app.upstream.errors import CredentialError, NotFoundError, SchemaError, TransientError
from tests import demo, factories
from tests.factories import present
from tests.polling import poll_key
from tests.properties import examples, rolled_back

pytestmark = pytest.mark.django_db

# Any code point, lone surrogates and NUL included: what a JSON escape can deliver.
ANY_CODE_POINT = st.characters(codec=None, categories=None)
STORABLE = st.characters(codec="utf-8", exclude_characters="\x00")
CHAR_FIELDS = [
    (model, field.name)
    for model in apps.get_app_config("integrations_app").get_models()
    for field in model._meta.get_fields()
    if isinstance(field, models.CharField) and not field.choices
]


def long_text(alphabet: st.SearchStrategy[str], limit: int) -> st.SearchStrategy[str]:
    """Text up to `limit` characters, often exactly at it (a repeated character: the widest case)."""
    return st.one_of(
        st.text(alphabet, max_size=limit),
        st.tuples(alphabet, st.integers(limit - 2, limit)).map(lambda pair: pair[0] * pair[1]),
    )


def fits(row: models.Model) -> bool:
    return all(
        len(getattr(row, field.name)) <= field.max_length
        for field in row._meta.get_fields()
        if isinstance(field, models.CharField) and field.max_length
    )


@pytest.mark.parametrize(("model", "field_name"), CHAR_FIELDS, ids=lambda value: getattr(value, "__name__", value))
@examples(60)
@given(text=long_text(ANY_CODE_POINT, 1200))
def test_fit_makes_any_text_storable_in_any_column(model, field_name, text):
    fitted = fit(model, field_name, text)
    assert len(fitted) <= model._meta.get_field(field_name).max_length
    assert "\x00" not in fitted
    fitted.encode("utf-8")  # no lone surrogate left
    if len(text) <= model._meta.get_field(field_name).max_length and "\x00" not in text and text.isprintable():
        assert fitted == text


@examples(40)
@given(
    message=long_text(ANY_CODE_POINT, 1200),
    error=st.sampled_from([TransientError, CredentialError, NotFoundError, SchemaError]),
)
def test_a_poll_failure_with_any_message_is_stored_with_its_change(message, error):
    with rolled_back():
        site = factories.site(poll_interval_seconds=60, name="Acme Store " + "x" * 89)  # a 100-character name
        now = timezone.now()
        type(site).objects.filter(pk=site.pk).update(health=Health.OK, failing_since=now - timedelta(hours=1))
        site.refresh_from_db()
        changes = record_failure(site, error(message, status=503), started=now, duration_ms=1)
        assert len(changes) == 1  # failing, credential rejected or not found: each a change
        (change,) = StatusChange.objects.filter(site=site)
        assert fits(change) and change.notify
        assert fits(PollAttempt.objects.get(site=site))
        site.refresh_from_db()
        assert fits(site)
        alert = batch_pending(now + timedelta(minutes=1), wait=False)
        message = build_message(present(alert))
        assert len(message.subject) <= 200 and "\n" not in message.subject and "\r" not in message.subject


@examples(15)
@given(name=long_text(STORABLE, NAME_MAX_LENGTH))
def test_an_upstream_rename_and_disable_at_the_longest_are_stored_and_alerted(sandbox, name):
    sandbox.state.reset("demo")
    with rolled_back():
        key = factories.key(name="N" * 100)
        assert poll_key(key.pk).ok
        sandbox.state.rename_integration(demo.ACME_ORDERS, name)
        sandbox.state.set_integration_status(demo.ACME_ORDERS, "DISABLED")
        assert poll_key(key.pk).ok
        integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
        assert (integration.name, integration.status) == (name, "DISABLED")
        changes = list(StatusChange.objects.filter(integration=integration))
        assert all(fits(change) for change in changes)
        assert {change.kind for change in changes} >= {"integration_status"}
        alert = batch_pending(timezone.now() + timedelta(minutes=1), wait=False)
        subject = build_message(present(alert)).subject
        assert len(subject) <= 200 and "\n" not in subject and "\r" not in subject
