"""DataFast client with a `dft_` token: `GET /api/v1/admin/websites/{websiteId}/integrations` (polling)
and `GET /api/v1/admin/websites` (discovery: the websites the token may read)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_aware

from integrations_app.upstream import http, http_async
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
ROLES = ("owner", "member", "viewer")
# The longest value of each listed field the dashboard keeps (the columns of models.DataFastSite).
WEBSITE_LENGTHS = {"domain": 253, "name": 100, "trackingId": 64, "timezone": 64}
PROBLEMS_NAMED = 5


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


@dataclass(frozen=True)
class Website:
    """One website of `GET /api/v1/admin/websites`, checked."""

    id: str
    domain: str
    name: str | None
    tracking_id: str
    timezone: str
    currency: str
    role: str

    @property
    def display_name(self) -> str:
        """Its DataFast name, or its domain when DataFast has none (the docs allow a null name)."""
        return self.name or self.domain

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "domain": self.domain,
            "name": self.name,
            "tracking_id": self.tracking_id,
            "timezone": self.timezone,
            "currency": self.currency,
            "role": self.role,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Website:
        text = {name: str(data.get(name) or "") for name in ("id", "domain", "tracking_id", "timezone", "currency")}
        return cls(name=data.get("name") or None, role=str(data.get("role") or ""), **text)


@dataclass(frozen=True)
class WebsiteListing:
    """The websites a token lists; `problems` name the entries that could not be read (skipped)."""

    websites: tuple[Website, ...]
    problems: tuple[str, ...] = ()


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


EARLIEST_EXPIRY = datetime(1970, 1, 1, tzinfo=UTC)


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
    # UTC, so an instant that has none (year 9999 west of Greenwich) is refused here, not in a save;
    # so is one before 1970, a date no key has, whose warning date (fourteen days before) may be
    # no date at all: refused later, in the problem state's sums, it would keep the website from
    # ever being recorded.
    try:
        expiry = parsed.astimezone(UTC) if is_aware(parsed) else parsed.replace(tzinfo=UTC)
    except OverflowError:
        expiry = None
    if expiry is None or expiry < EARLIEST_EXPIRY:
        raise SchemaError("DataFast 'paddle.keyExpiresAt' is outside the range of dates")
    return expiry


def _currency(value: Any) -> str:
    if not isinstance(value, str) or not CURRENCY.fullmatch(value):
        raise SchemaError("DataFast 'currency' is not a three-letter code")
    return value.upper()


def parse_websites(payload: Any) -> WebsiteListing:
    """The envelope must be right (or the whole answer is a schema error); a bad entry only spoils
    itself: it is named in `problems` and left out. At most DATAFAST_MAX_WEBSITES are read."""
    if not isinstance(payload, dict) or payload.get("status") != "success":
        raise SchemaError("DataFast websites answer has no status 'success'")
    data = payload.get("data")
    if not isinstance(data, list):
        raise SchemaError("DataFast websites answer has no 'data' array")
    cap = settings.DATAFAST_MAX_WEBSITES
    websites: dict[str, Website] = {}
    bad: list[str] = []
    for position, entry in enumerate(data[:cap], start=1):
        try:
            website = _website(entry)
        except SchemaError as error:
            bad.append(f"entry {position}: {error.message}")
            continue
        websites.setdefault(website.id, website)
    if len(data) > cap:
        bad.append(f"{len(data) - cap:,} websites past the first {cap:,} were not read")
    more = f" and {len(bad) - PROBLEMS_NAMED:,} more" if len(bad) > PROBLEMS_NAMED else ""
    problems = (f"{len(bad):,} skipped: " + "; ".join(bad[:PROBLEMS_NAMED]) + more,) if bad else ()
    return WebsiteListing(tuple(websites.values()), problems)


def _website(entry: Any) -> Website:
    if not isinstance(entry, dict):
        raise SchemaError("not an object")
    website_id = entry.get("_id")
    if not isinstance(website_id, str) or not OBJECT_ID.fullmatch(website_id):
        raise SchemaError("'_id' is not a 24-hex ObjectId")
    texts: dict[str, str] = {}
    for name, limit in WEBSITE_LENGTHS.items():
        value = entry.get(name)
        if value is None and name in ("name", "trackingId"):
            continue
        if not isinstance(value, str) or (name == "domain" and not value):
            raise SchemaError(f"website {website_id}: '{name}' is not a string")
        if not value.isprintable():
            raise SchemaError(f"website {website_id}: '{name}' holds unprintable characters")
        texts[name] = value.strip()[:limit]  # a longer name is cut, not refused
    role = entry.get("role")
    if role not in ROLES:
        raise SchemaError(f"website {website_id}: 'role' is not owner, member or viewer")
    currency = entry.get("currency")
    return Website(
        id=website_id.lower(),
        domain=texts["domain"],
        name=texts.get("name") or None,
        tracking_id=texts.get("trackingId", ""),
        timezone=texts.get("timezone", ""),
        currency=currency.upper() if isinstance(currency, str) and CURRENCY.fullmatch(currency) else "",
        role=role,
    )


class DataFastClient:
    def __init__(self, token: Secret, base_url: str | None = None, *, deadline: float | None = None) -> None:
        self.token = token
        self.base_url = (base_url or settings.DATAFAST_BASE_URL).rstrip("/")
        self.deadline = deadline  # a time.monotonic() value no call of this client may outlive

    def __repr__(self) -> str:
        return f"DataFastClient({self.base_url}, token={self.token.masked})"

    def website_integrations(self, website_id: str) -> WebsiteIntegrations:
        url = self._integrations_url(website_id)
        status, payload = http.request("GET", url, token=self.token, parse_error=parse_error, deadline=self.deadline)
        with answered_with(status):
            return parse_integrations(payload)

    async def website_integrations_async(self, website_id: str) -> WebsiteIntegrations:
        """`website_integrations` on the poll loop (`http_async`): the same request and checks."""
        url = self._integrations_url(website_id)
        status, payload = await http_async.request(
            "GET", url, token=self.token, parse_error=parse_error, deadline=self.deadline
        )
        with answered_with(status):
            return parse_integrations(payload)

    def _integrations_url(self, website_id: str) -> str:
        return f"{self.base_url}/api/v1/admin/websites/{quote(website_id, safe='')}/integrations"

    def list_websites(self) -> WebsiteListing:
        """`GET /api/v1/admin/websites` (`websites:read`). A token without that permission answers
        403: a CredentialError with status 403, which discovery reads as a fact, not a failure."""
        url = f"{self.base_url}/api/v1/admin/websites"
        status, payload = http.request("GET", url, token=self.token, parse_error=parse_error, deadline=self.deadline)
        with answered_with(status):
            return parse_websites(payload)
