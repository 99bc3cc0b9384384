"""ChargebackStop client: list, get, create, rename and disable integrations (`/v1/integrations/`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings

from integrations_app.upstream import http
from integrations_app.upstream.errors import SchemaError, answered_with
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
    raw: dict[str, Any] = field(repr=False, compare=False)

    @property
    def is_custom_orders(self) -> bool:
        return self.type == CUSTOM_ORDERS

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
    """Every integration a key can see. Only a `complete` listing may declare an integration gone."""

    integrations: tuple[Integration, ...]
    count: int
    complete: bool
    pages: int


def parse_error(payload: Any) -> http.ErrorDetail:
    """ChargebackStop's envelope: `{"errors": [{"code", "message"}]}`; the first error decides."""
    first = payload["errors"][0]
    code = first.get("code", "")
    field_name = CODE_FIELDS.get(code, first.get("field", "")) if isinstance(code, str) else ""
    return http.ErrorDetail(code=code, message=first.get("message", ""), field=field_name or "")


def parse_integration(item: Any) -> Integration:
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
    if text_fields["status"] not in STATUSES:
        raise SchemaError("ChargebackStop integration 'status' is neither ENABLED nor DISABLED")
    merchant_ids = item.get("merchant_ids")
    if not isinstance(merchant_ids, list) or not all(isinstance(m, str) for m in merchant_ids):
        raise SchemaError("ChargebackStop integration 'merchant_ids' is not a list of strings")
    for merchant_id in merchant_ids:
        _check_storable(merchant_id, "merchant_ids")
    return Integration(merchant_ids=tuple(merchant_ids), raw=item, **text_fields)


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


def _parse_page(payload: Any) -> tuple[list[Integration], int]:
    if not isinstance(payload, dict):
        raise SchemaError("ChargebackStop listing is not a JSON object")
    items, count = payload.get("items"), payload.get("count")
    if not isinstance(items, list):
        raise SchemaError("ChargebackStop listing has no 'items' array")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise SchemaError("ChargebackStop listing has no whole-number 'count'")
    return [parse_integration(item) for item in items], count


class ChargebackStopClient:
    def __init__(self, api_key: Secret, base_url: str | None = None) -> None:
        self.api_key = api_key
        self.base_url = (base_url or settings.CHARGEBACKSTOP_BASE_URL).rstrip("/")
        self.last_status: int | None = None  # of the last successful answer, for the audit log

    def __repr__(self) -> str:
        return f"ChargebackStopClient({self.base_url}, key={self.api_key.masked})"

    def _call(self, method: str, path: str, parse: Callable[[Any], T], **kwargs: Any) -> T:
        self.last_status, payload = http.request(
            method, self.base_url + path, token=self.api_key, parse_error=parse_error, **kwargs
        )
        with answered_with(self.last_status):
            return parse(payload)

    def list_integrations(
        self, *, page_size: int | None = None, max_pages: int | None = None, deadline: float | None = None
    ) -> Listing:
        """Page with `offset` advanced by the items actually received (a server may send fewer than
        `limit`); stop at `count` or at an empty page; never more than `max_pages` requests, and no
        new page after `deadline` (a `time.monotonic()` value). Stopping early gives an incomplete
        listing, which never declares anything gone."""
        page_size = page_size or settings.CHARGEBACKSTOP_PAGE_SIZE
        max_pages = max_pages or settings.CHARGEBACKSTOP_MAX_PAGES
        seen: dict[str, Integration] = {}
        offset = count = pages = 0
        while pages < max_pages and (deadline is None or pages == 0 or time.monotonic() < deadline):
            items, count = self._call(
                "GET", "/v1/integrations/", _parse_page, params={"limit": page_size, "offset": offset}
            )
            pages += 1
            for item in items:
                seen.setdefault(item.id, item)
            offset += len(items)
            if not items or offset >= count:
                break
        # Items can shift between pages while we read; the listing is complete only if we hold
        # as many distinct integrations as the server says exist.
        complete = len(seen) >= count
        return Listing(integrations=tuple(seen.values()), count=count, complete=complete, pages=pages)

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
