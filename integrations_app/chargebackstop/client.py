"""ChargebackStop client: list, get, create, rename and disable integrations (`/v1/integrations/`)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings

from integrations_app.upstream import http
from integrations_app.upstream.errors import SchemaError, TransientError, answered_with
from integrations_app.upstream.secret import Secret

T = TypeVar("T")
CUSTOM_ORDERS = "CUSTOM_ORDERS"
ENABLED = "ENABLED"
DISABLED = "DISABLED"
STATUSES = (ENABLED, DISABLED)
NAME_MAX_LENGTH = 255
# The longest value of each text field the dashboard stores (the columns of models.Integration);
# the docs give no limit but the name's, and a longer value must be a schema error, not a failed save.
STORED_LENGTHS = {"id": 100, "organisation_id": 100, "name": NAME_MAX_LENGTH, "type": 40, "status": 8}
# An integration ID goes into request paths (rename, disable): `..` or `.` would aim a PATCH, key
# attached, at another resource, so only these characters are accepted from upstream.
INTEGRATION_ID = re.compile(r"[A-Za-z0-9_-]+")
PROBLEMS_NAMED = 5  # bad items named in a listing's note; the rest are counted

# The 422 codes the docs list, and the form field each one concerns.
CODE_FIELDS = {
    "DUPLICATE_MERCHANT_IDS": "merchant_ids",
    "INVALID_MERCHANT_IDS": "merchant_ids",
    "INVALID_INTEGRATION_TYPE": "type",
    "MISSING_UPDATE_FIELDS": "",
}


@dataclass(frozen=True)
class Integration:
    id: str
    organisation_id: str
    name: str
    type: str
    status: str
    merchant_ids: tuple[str, ...]
    # The answer as sent, for the audit of a single create, rename or disable; a listing keeps none
    # (thousands of items with their JSON would hold the whole listing twice in memory).
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def as_snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "merchant_ids": list(self.merchant_ids),
        }


@dataclass(frozen=True)
class Listing:
    """Every integration a key can see. Only a `complete` listing may declare an integration gone;
    `problems` say why one is not (bad items, named; a budget or deadline reached)."""

    integrations: tuple[Integration, ...]
    count: int
    complete: bool
    pages: int
    problems: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        """The problems in one line, for the poll attempt."""
        return "; ".join(self.problems)


def parse_error(payload: Any) -> http.ErrorDetail:
    """ChargebackStop's envelope: `{"errors": [{"code", "message"}]}`; the first error decides."""
    first = payload["errors"][0]
    code = first.get("code", "")
    field_name = CODE_FIELDS.get(code, first.get("field", "")) if isinstance(code, str) else ""
    return http.ErrorDetail(code=code, message=first.get("message", ""), field=field_name or "")


def parse_integration(item: Any, *, keep_raw: bool = True) -> Integration:
    if not isinstance(item, dict):
        raise SchemaError("ChargebackStop integration is not a JSON object")
    text_fields = {}
    for name, max_length in STORED_LENGTHS.items():
        value = item.get(name)
        if not isinstance(value, str) or (name != "name" and not value):
            raise SchemaError(f"ChargebackStop integration lacks a string '{name}'")
        if len(value) > max_length:
            raise SchemaError(f"ChargebackStop integration '{name}' is longer than {max_length} characters")
        _check_storable(value, name)
        text_fields[name] = value
    if not INTEGRATION_ID.fullmatch(text_fields["id"]):
        raise SchemaError("ChargebackStop integration 'id' has characters other than letters, digits, _ and -")
    if text_fields["status"] not in STATUSES:
        raise SchemaError("ChargebackStop integration 'status' is neither ENABLED nor DISABLED")
    merchant_ids = item.get("merchant_ids")
    if not isinstance(merchant_ids, list):
        raise SchemaError("ChargebackStop integration 'merchant_ids' is not a list of strings")
    if len(merchant_ids) > settings.CHARGEBACKSTOP_MAX_MERCHANT_IDS:  # checked before reading them
        raise SchemaError(
            f"ChargebackStop integration lists {len(merchant_ids):,} merchant IDs, "
            f"over the {settings.CHARGEBACKSTOP_MAX_MERCHANT_IDS:,} kept per integration"
        )
    if not all(isinstance(m, str) for m in merchant_ids):
        raise SchemaError("ChargebackStop integration 'merchant_ids' is not a list of strings")
    for merchant_id in merchant_ids:
        _check_storable(merchant_id, "merchant_ids")
    return Integration(merchant_ids=tuple(merchant_ids), raw=item if keep_raw else {}, **text_fields)


def item_name(item: Any, position: int) -> str:
    """How a listing's note names an item: its ID when that is a valid one, else its position."""
    given = item.get("id") if isinstance(item, dict) else None
    if isinstance(given, str) and len(given) <= STORED_LENGTHS["id"] and INTEGRATION_ID.fullmatch(given):
        return f"integration {given}"
    return f"item {position}"


def _check_storable(value: str, name: str) -> None:
    """JSON escapes can carry NUL and lone surrogates; no database column can hold them."""
    try:
        value.encode("utf-8")  # fails on a lone surrogate
    except UnicodeEncodeError:
        storable = False
    else:
        storable = "\x00" not in value
    if not storable:
        raise SchemaError(f"ChargebackStop integration '{name}' holds a character that cannot be stored")


@dataclass(frozen=True)
class _Page:
    integrations: list[Integration]
    count: int
    bad: list[str]  # each bad item, named, with what is wrong with it


def _parse_page(payload: Any, first_position: int = 1) -> _Page:
    """A page's envelope must be right, or the whole page is a schema error; a bad item only
    spoils itself (it is named, and the listing is incomplete)."""
    if not isinstance(payload, dict):
        raise SchemaError("ChargebackStop listing is not a JSON object")
    items, count = payload.get("items"), payload.get("count")
    if not isinstance(items, list):
        raise SchemaError("ChargebackStop listing has no 'items' array")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SchemaError("ChargebackStop listing has no whole-number 'count'")
    good: list[Integration] = []
    bad: list[str] = []
    for position, item in enumerate(items, start=first_position):
        try:
            good.append(parse_integration(item, keep_raw=False))
        except SchemaError as error:
            bad.append(f"{item_name(item, position)}: {error.message.removeprefix('ChargebackStop integration ')}")
    return _Page(good, count, bad)


@dataclass
class _Budget:
    """What one listing may take in, whatever the server claims: items, merchant IDs and bytes."""

    items: int = 0
    merchant_ids: int = 0
    bytes: int = 0

    def spent(self) -> str:
        """Why the listing must stop here, or "" while it may go on."""
        if self.items >= settings.CHARGEBACKSTOP_LISTING_MAX_ITEMS:
            return f"{settings.CHARGEBACKSTOP_LISTING_MAX_ITEMS:,} items"
        if self.merchant_ids >= settings.CHARGEBACKSTOP_LISTING_MAX_MERCHANT_IDS:
            return f"{settings.CHARGEBACKSTOP_LISTING_MAX_MERCHANT_IDS:,} merchant IDs"
        if self.bytes >= settings.CHARGEBACKSTOP_LISTING_MAX_BYTES:
            return f"{settings.CHARGEBACKSTOP_LISTING_MAX_BYTES / 1_000_000:g} MB"
        return ""


class ChargebackStopClient:
    def __init__(self, api_key: Secret, base_url: str | None = None, *, deadline: float | None = None) -> None:
        self.api_key = api_key
        self.base_url = (base_url or settings.CHARGEBACKSTOP_BASE_URL).rstrip("/")
        self.deadline = deadline  # a time.monotonic() value no call of this client may outlive
        self.last_status: int | None = None  # of the last successful answer, for the audit log

    def __repr__(self) -> str:
        return f"ChargebackStopClient({self.base_url}, key={self.api_key.masked})"

    def _call(self, method: str, path: str, parse: Callable[[Any], T], **kwargs: Any) -> T:
        self.last_status, payload = http.request(
            method, self.base_url + path, token=self.api_key, parse_error=parse_error, deadline=self.deadline, **kwargs
        )
        with answered_with(self.last_status):
            return parse(payload)

    def list_integrations(
        self, *, page_size: int | None = None, max_pages: int | None = None, deadline: float | None = None
    ) -> Listing:
        """Page with `offset` advanced by the items actually received (a server may send fewer than
        `limit`); stop at `count` or at an empty page. Never more than `max_pages` requests, nor
        more than the listing budget (items, merchant IDs, bytes), and nothing past `deadline` (a
        `time.monotonic()` value, also the limit of each request). Stopping early, or a bad item,
        gives an incomplete listing, which never declares anything gone."""
        page_size = page_size or settings.CHARGEBACKSTOP_PAGE_SIZE
        max_pages = max_pages or settings.CHARGEBACKSTOP_MAX_PAGES
        limits = [limit for limit in (deadline, self.deadline) if limit is not None]
        deadline = min(limits) if limits else None
        seen: dict[str, Integration] = {}
        bad: list[str] = []
        budget = _Budget()
        offset = count = announced = pages = 0
        stopped = ""
        while True:
            if pages >= max_pages:
                stopped = f"stopped after {pages} pages (the most a listing may take)"
                break
            if pages and deadline is not None and time.monotonic() >= deadline:
                stopped = f"stopped after {pages} pages at the poll's deadline"
                break
            try:
                self.last_status, payload, size = http.request_sized(
                    "GET",
                    self.base_url + "/v1/integrations/",
                    token=self.api_key,
                    parse_error=parse_error,
                    params={"limit": page_size, "offset": offset},
                    deadline=deadline,
                )
            except TransientError as error:
                # The deadline cut a later page: what was read so far still counts, as incomplete.
                if not (pages and error.reason == "timeout" and deadline and time.monotonic() >= deadline - 0.1):
                    raise
                stopped = f"stopped after {pages} pages at the poll's deadline"
                break
            with answered_with(self.last_status):
                page = _parse_page(payload, first_position=offset + 1)
            del payload  # the page's parsed JSON goes now; only the checked items stay
            pages += 1
            count = page.count
            # The most integrations any page said exist: a later page claiming fewer than were
            # already received (an empty page saying 0, say) contradicts the listing, not ends it.
            announced = max(announced, page.count)
            bad += page.bad
            for item in page.integrations:
                if item.id not in seen:
                    seen[item.id] = item
                    budget.merchant_ids += len(item.merchant_ids)
            budget.items += len(page.integrations) + len(page.bad)
            budget.bytes += size
            received = len(page.integrations) + len(page.bad)
            offset += received
            if not received or offset >= count:
                break
            if spent := budget.spent():
                stopped = f"stopped after {pages} pages: the listing passed its budget of {spent}"
                break
        return Listing(
            integrations=tuple(seen.values()),
            count=count,
            # Items can shift between pages while we read; the listing is complete only if we hold
            # as many distinct integrations as the server says exist, and every one was readable.
            complete=len(seen) >= announced and not bad and not stopped,
            pages=pages,
            problems=_problems(seen, announced, bad, stopped),
        )

    def get_integration(self, integration_id: str) -> Integration:
        return self._call("GET", f"/v1/integrations/{quote(integration_id, safe='')}", parse_integration)

    def create_integration(
        self, *, organisation_id: str, name: str, merchant_ids: list[str], status: str = ENABLED
    ) -> Integration:
        body = {
            "organisation_id": organisation_id,
            "name": name,
            "type": CUSTOM_ORDERS,
            "status": status,
            "merchant_ids": merchant_ids,
        }
        return self._call("POST", "/v1/integrations/", parse_integration, body=body)

    def rename_integration(self, integration_id: str, name: str) -> Integration:
        return self._patch(integration_id, {"name": name})

    def disable_integration(self, integration_id: str) -> Integration:
        return self._patch(integration_id, {"status": DISABLED})

    def _patch(self, integration_id: str, body: dict[str, str]) -> Integration:
        return self._call("PATCH", f"/v1/integrations/{quote(integration_id, safe='')}", parse_integration, body=body)


def _problems(seen: dict[str, Integration], count: int, bad: list[str], stopped: str) -> tuple[str, ...]:
    problems: list[str] = []
    if stopped:
        problems.append(f"listing incomplete: {stopped}, holding {len(seen):,} of {count:,} integrations")
    elif len(seen) < count and not bad:
        problems.append(f"listing incomplete: {len(seen):,} of {count:,} integrations received")
    if bad:
        more = f" and {len(bad) - PROBLEMS_NAMED:,} more" if len(bad) > PROBLEMS_NAMED else ""
        problems.append(f"{len(bad):,} unreadable, skipped: " + "; ".join(bad[:PROBLEMS_NAMED]) + more)
    return tuple(problems)
