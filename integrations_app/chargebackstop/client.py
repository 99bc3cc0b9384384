"""ChargebackStop client: list, get, create, rename and disable integrations (`/v1/integrations/`);
list organisations and merchants (`/v1/organisations`, `/v1/merchants`: partner keys only). Every
request spends from the key's per-endpoint budget (upstream/budget.py)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from django.conf import settings

from integrations_app.upstream import http
from integrations_app.upstream.budget import HELD_BACK, Budget
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


def _check_storable(value: str, name: str, noun: str = "integration") -> None:
    """JSON escapes can carry NUL and lone surrogates; no database column can hold them."""
    try:
        value.encode("utf-8")  # fails on a lone surrogate
    except UnicodeEncodeError:
        storable = False
    else:
        storable = "\x00" not in value
    if not storable:
        raise SchemaError(f"ChargebackStop {noun} '{name}' holds a character that cannot be stored")


@dataclass(frozen=True)
class _Page(Generic[T]):
    items: list[T]
    count: int
    bad: list[str]  # each bad item, named, with what is wrong with it


@dataclass(frozen=True)
class _Kind(Generic[T]):
    """What one listing pages through: its path, the words for its items, and how to read one."""

    path: str
    noun: str  # "integration": the prefix of its parser's messages, and how the notes count items
    parse: Callable[[Any], T]
    name: Callable[[Any, int], str]
    weight: Callable[[T], int] = lambda item: 0  # merchant IDs held (integrations only)
    ident: Callable[[T], str] = lambda item: str(getattr(item, "id"))  # noqa: B009


def _parse_page(payload: Any, kind: _Kind[T], first_position: int = 1) -> _Page[T]:
    """A page's envelope must be right, or the whole page is a schema error; a bad item only
    spoils itself (it is named, and the listing is incomplete)."""
    if not isinstance(payload, dict):
        raise SchemaError("ChargebackStop listing is not a JSON object")
    items, count = payload.get("items"), payload.get("count")
    if not isinstance(items, list):
        raise SchemaError("ChargebackStop listing has no 'items' array")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SchemaError("ChargebackStop listing has no whole-number 'count'")
    good: list[T] = []
    bad: list[str] = []
    prefix = f"ChargebackStop {kind.noun} "
    for position, item in enumerate(items, start=first_position):
        try:
            good.append(kind.parse(item))
        except SchemaError as error:
            bad.append(f"{kind.name(item, position)}: {error.message.removeprefix(prefix)}")
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


@dataclass(frozen=True)
class Paged(Generic[T]):
    """Every item of one listing (integrations, organisations or merchants), as `Listing` says."""

    items: tuple[T, ...]
    count: int
    complete: bool
    pages: int
    problems: tuple[str, ...] = ()

    @property
    def note(self) -> str:
        return "; ".join(self.problems)


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    mode: str  # LIVE or TEST

    @property
    def is_test(self) -> bool:
        return self.mode == "TEST"


@dataclass(frozen=True)
class Merchant:
    id: str
    organisation_id: str
    name: str
    type: str
    external_id: str


def _text(item: dict[str, Any], noun: str, name: str, limit: int, *, required: bool = True) -> str:
    value = item.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise SchemaError(f"ChargebackStop {noun} lacks a string '{name}'")
    if len(value) > limit:
        raise SchemaError(f"ChargebackStop {noun} '{name}' is longer than {limit} characters")
    _check_storable(value, name, noun)
    return value


def parse_organisation(item: Any) -> Organisation:
    if not isinstance(item, dict):
        raise SchemaError("ChargebackStop organisation is not a JSON object")
    organisation_id = _text(item, "organisation", "id", 100)
    if not INTEGRATION_ID.fullmatch(organisation_id):
        raise SchemaError("ChargebackStop organisation 'id' has characters other than letters, digits, _ and -")
    mode = item.get("mode")
    if mode not in ("LIVE", "TEST"):
        raise SchemaError("ChargebackStop organisation 'mode' is neither LIVE nor TEST")
    return Organisation(organisation_id, _text(item, "organisation", "name", 200, required=False), mode)


def parse_merchant(item: Any) -> Merchant:
    if not isinstance(item, dict):
        raise SchemaError("ChargebackStop merchant is not a JSON object")
    merchant_id = _text(item, "merchant", "id", 100)
    if not INTEGRATION_ID.fullmatch(merchant_id):
        raise SchemaError("ChargebackStop merchant 'id' has characters other than letters, digits, _ and -")
    return Merchant(
        id=merchant_id,
        organisation_id=_text(item, "merchant", "organisation_id", 100),
        name=_text(item, "merchant", "name", NAME_MAX_LENGTH, required=False),
        type=_text(item, "merchant", "type", 40, required=False),
        external_id=_text(item, "merchant", "external_id", 255, required=False),
    )


def _named(noun: str) -> Callable[[Any, int], str]:
    def name(item: Any, position: int) -> str:
        given = item.get("id") if isinstance(item, dict) else None
        if isinstance(given, str) and len(given) <= STORED_LENGTHS["id"] and INTEGRATION_ID.fullmatch(given):
            return f"{noun} {given}"
        return f"item {position}"

    return name


INTEGRATIONS: _Kind[Integration] = _Kind(
    "/v1/integrations/",
    "integration",
    lambda item: parse_integration(item, keep_raw=False),
    item_name,
    weight=lambda item: len(item.merchant_ids),
)
ORGANISATIONS: _Kind[Organisation] = _Kind(
    "/v1/organisations", "organisation", parse_organisation, _named("organisation")
)
MERCHANTS: _Kind[Merchant] = _Kind("/v1/merchants", "merchant", parse_merchant, _named("merchant"))


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
        """Every integration the key sees (see `_page_through` for the rules)."""
        paged = self._page_through(INTEGRATIONS, page_size=page_size, max_pages=max_pages, deadline=deadline)
        return Listing(paged.items, paged.count, paged.complete, paged.pages, paged.problems)

    def list_organisations(
        self, *, page_size: int | None = None, max_pages: int | None = None, deadline: float | None = None
    ) -> Paged[Organisation]:
        """`GET /v1/organisations` (partner keys only: an organisation-level key gets 401)."""
        return self._page_through(ORGANISATIONS, page_size=page_size, max_pages=max_pages, deadline=deadline)

    def list_merchants(
        self,
        *,
        organisation_id: str | None = None,
        page_size: int | None = None,
        max_pages: int | None = None,
        deadline: float | None = None,
    ) -> Paged[Merchant]:
        """`GET /v1/merchants`, of one organisation when `organisation_id` is given (partner keys only)."""
        params = {"organisation_id": organisation_id} if organisation_id else {}
        return self._page_through(MERCHANTS, page_size=page_size, max_pages=max_pages, deadline=deadline, params=params)

    def _page_through(
        self,
        kind: _Kind[T],
        *,
        page_size: int | None,
        max_pages: int | None,
        deadline: float | None,
        params: dict[str, str] | None = None,
    ) -> Paged[T]:
        """Page with `offset` advanced by the items actually received (a server may send fewer than
        `limit`); stop at `count` or at an empty page. Never more than `max_pages` requests, nor
        more than the listing budget (items, merchant IDs, bytes), and nothing past `deadline` (a
        `time.monotonic()` value, also the limit of each request). Stopping early, or a bad item,
        gives an incomplete listing, which never declares anything gone. Each page waits for its
        slot in the key's request budget for the endpoint."""
        page_size = page_size or settings.CHARGEBACKSTOP_PAGE_SIZE
        max_pages = max_pages or settings.CHARGEBACKSTOP_MAX_PAGES
        limits = [limit for limit in (deadline, self.deadline) if limit is not None]
        deadline = min(limits) if limits else None
        seen: dict[str, T] = {}
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
                    self.base_url + kind.path,
                    token=self.api_key,
                    parse_error=parse_error,
                    params={**(params or {}), "limit": page_size, "offset": offset},
                    deadline=deadline,
                    budget=request_budget("GET " + kind.path.rstrip("/")),
                )
            except TransientError as error:
                # The deadline cut a later page, or the key's request budget has no slot before it:
                # what was read so far still counts, as incomplete.
                held_back = error.code == HELD_BACK
                if not (pages and (held_back or (error.reason == "timeout" and _near(deadline)))):
                    raise
                stopped = f"stopped after {pages} pages at the poll's deadline" + (
                    " (the key's request budget had no slot before it)" if held_back else ""
                )
                break
            with answered_with(self.last_status):
                page = _parse_page(payload, kind, first_position=offset + 1)
            del payload  # the page's parsed JSON goes now; only the checked items stay
            pages += 1
            count = page.count
            # The most items any page said exist: a later page claiming fewer than were already
            # received (an empty page saying 0, say) contradicts the listing, not ends it.
            announced = max(announced, page.count)
            bad += page.bad
            for item in page.items:
                ident = kind.ident(item)
                if ident not in seen:
                    seen[ident] = item
                    budget.merchant_ids += kind.weight(item)
            received = len(page.items) + len(page.bad)
            budget.items += received
            budget.bytes += size
            offset += received
            if not received or offset >= count:
                break
            if spent := budget.spent():
                stopped = f"stopped after {pages} pages: the listing passed its budget of {spent}"
                break
        return Paged(
            items=tuple(seen.values()),
            count=count,
            # Items can shift between pages while we read; the listing is complete only if we hold
            # as many distinct items as the server says exist, and every one was readable.
            complete=len(seen) >= announced and not bad and not stopped,
            pages=pages,
            problems=_problems(len(seen), announced, bad, stopped, f"{kind.noun}s"),
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


def request_budget(endpoint: str) -> Budget:
    """A key's budget for one endpoint (ChargebackStop counts requests per endpoint)."""
    return Budget(endpoint, settings.CHARGEBACKSTOP_REQUESTS_PER_MINUTE, settings.CHARGEBACKSTOP_REQUEST_BURST)


def _near(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline - 0.1


def _problems(seen: int, count: int, bad: list[str], stopped: str, nouns: str) -> tuple[str, ...]:
    problems: list[str] = []
    if stopped:
        problems.append(f"listing incomplete: {stopped}, holding {seen:,} of {count:,} {nouns}")
    elif seen < count and not bad:
        problems.append(f"listing incomplete: {seen:,} of {count:,} {nouns} received")
    if bad:
        more = f" and {len(bad) - PROBLEMS_NAMED:,} more" if len(bad) > PROBLEMS_NAMED else ""
        problems.append(f"{len(bad):,} unreadable, skipped: " + "; ".join(bad[:PROBLEMS_NAMED]) + more)
    return tuple(problems)
