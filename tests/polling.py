"""The pollers as tests call them: a poll a test runs itself is never skipped ("polled since"), so
its outcome is always there, and typed so."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from integrations_app.chargebackstop import poller as chargebackstop
from integrations_app.datafast import batch
from integrations_app.datafast import poller as datafast
from integrations_app.datafast.client import WebsiteIntegrations
from integrations_app.datafast.models import DataFastSite
from integrations_app.polling.outcome import Asked, PollOutcome
from tests.factories import present


def poll_site(site_id: int) -> PollOutcome:
    return present(datafast.poll_site(site_id))


def poll_key(key_id: int) -> PollOutcome:
    return present(chargebackstop.poll_key(key_id))


class RecordingBug(Exception):
    """What `break_recording` and `break_asking` raise: a bug in recording or asking, which no
    upstream answer trips any more (each one that did is now refused by the client as a SchemaError)."""


def break_recording(monkeypatch: pytest.MonkeyPatch, site_id: int) -> None:
    """Recording website `site_id`'s answer raises in the batch path, as a bug there would; the
    other websites are recorded as usual."""
    record = datafast.record_site

    def record_or_raise(site: DataFastSite, asked: Asked[WebsiteIntegrations]) -> PollOutcome:
        if site.pk == site_id:
            raise RecordingBug("a bug in recording this website")
        return record(site, asked)

    monkeypatch.setattr(batch, "record_site", record_or_raise)


def break_asking(monkeypatch: pytest.MonkeyPatch, site_id: int, *, after: float = 0) -> None:
    """Asking about website `site_id` raises in the batch path (on the loop `after` seconds in, or
    at once through `requests`), as a bug in the client would; the other websites are asked as
    usual."""
    ask_async, ask = datafast.ask_site_async, datafast.ask_site

    async def ask_or_raise_async(site: DataFastSite, **options: Any) -> Any:
        if site.pk == site_id:
            await asyncio.sleep(after)
            raise RecordingBug("a bug in asking about this website")
        return await ask_async(site, **options)

    def ask_or_raise(site: DataFastSite) -> Any:
        if site.pk == site_id:
            raise RecordingBug("a bug in asking about this website")
        return ask(site)

    monkeypatch.setattr(batch, "ask_site_async", ask_or_raise_async)
    monkeypatch.setattr(batch, "ask_site", ask_or_raise)
