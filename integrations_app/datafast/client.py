"""DataFast client: `GET /api/v1/admin/websites/{websiteId}/integrations` with a `dft_` token."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_aware

from integrations_app.upstream import http
from integrations_app.upstream.errors import SchemaError, answered_with
from integrations_app.upstream.secret import Secret

PROVIDERS: dict[str, str] = {
    "stripe": "Stripe",
    "lemonsqueezy": "Lemon Squeezy",
    "polar": "Polar",
    "paddle": "Paddle",
    "shopify": "Shopify",
    "woocommerce": "WooCommerce",
}
# A website ID: the one ObjectId pattern (the model's validator and the form use it; match it whole).
OBJECT_ID = re.compile(r"^[0-9a-fA-F]{24}$")
CURRENCY = re.compile(r"[A-Za-z]{3}")  # matched whole: "USD\n" is not a currency


@dataclass(frozen=True)
class WebsiteIntegrations:
    """One website's payment integrations, as DataFast reports them."""

    connected: dict[str, bool]  # every key of PROVIDERS, in that order
    paddle_key_expires_at: datetime | None
    currency: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    def as_snapshot(self) -> dict[str, Any]:
        return {
            "connected": self.connected,
            "paddle_key_expires_at": self.paddle_key_expires_at.isoformat() if self.paddle_key_expires_at else None,
            "currency": self.currency,
        }


def parse_error(payload: Any) -> http.ErrorDetail:
    """DataFast's envelope: `{"status": "error", "error": {"code", "message"}}`."""
    error = payload["error"]
    if isinstance(error, str):
        return http.ErrorDetail(message=error)
    return http.ErrorDetail(code=error.get("code", ""), message=error.get("message", ""))


def parse_integrations(payload: Any) -> WebsiteIntegrations:
    """Check the documented shape strictly; unknown extra fields are kept in `raw` and ignored."""
    if not isinstance(payload, dict):
        raise SchemaError("DataFast answer is not a JSON object")
    if payload.get("status") != "success":
        raise SchemaError("DataFast answer has no status 'success'")
    data = payload.get("data")
    if not isinstance(data, list):
        raise SchemaError("DataFast answer has no 'data' array")
    if not data:
        raise SchemaError("DataFast sent no integration data (empty 'data')")
    entry = data[0]
    if not isinstance(entry, dict):
        raise SchemaError("DataFast 'data[0]' is not an object")
    connected: dict[str, bool] = {}
    for key in PROVIDERS:
        provider = entry.get(key)
        if not isinstance(provider, dict) or not isinstance(provider.get("connected"), bool):
            raise SchemaError(f"DataFast answer lacks a boolean '{key}.connected'")
        connected[key] = provider["connected"]
    return WebsiteIntegrations(
        connected=connected,
        paddle_key_expires_at=_expiry(entry["paddle"]),
        currency=_currency(entry.get("currency")),
        raw=entry,
    )


def _expiry(paddle: dict[str, Any]) -> datetime | None:
    value = paddle.get("keyExpiresAt")
    if value is None:
        return None
    if not isinstance(value, str):
        raise SchemaError("DataFast 'paddle.keyExpiresAt' is not a string or null")
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime.combine(day, time.min)
    except ValueError:
        parsed = None
    if parsed is None:
        raise SchemaError("DataFast 'paddle.keyExpiresAt' is not an ISO 8601 timestamp")
    # The docs do not name a zone; a timestamp without one is read as UTC. Stored and compared in
    # UTC, so an instant that has none (year 9999 west of Greenwich) is refused here, not in a save.
    try:
        return parsed.astimezone(UTC) if is_aware(parsed) else parsed.replace(tzinfo=UTC)
    except OverflowError:
        raise SchemaError("DataFast 'paddle.keyExpiresAt' is outside the range of dates") from None


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise SchemaError("DataFast 'currency' is not a three-letter code")
    return value.upper()


class DataFastClient:
    def __init__(self, token: Secret, base_url: str | None = None, *, deadline: float | None = None) -> None:
        self.token = token
        self.base_url = (base_url or settings.DATAFAST_BASE_URL).rstrip("/")
        self.deadline = deadline  # a time.monotonic() value no call of this client may outlive

    def __repr__(self) -> str:
        return f"DataFastClient({self.base_url}, token={self.token.masked})"

    def website_integrations(self, website_id: str) -> WebsiteIntegrations:
        url = f"{self.base_url}/api/v1/admin/websites/{quote(website_id, safe='')}/integrations"
        status, payload = http.request("GET", url, token=self.token, parse_error=parse_error, deadline=self.deadline)
        with answered_with(status):
            return parse_integrations(payload)
