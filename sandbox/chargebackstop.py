"""Simulated ChargebackStop: `GET/POST /v1/integrations/`, `GET/PATCH /v1/integrations/{id}`, and
the partner-level `GET /v1/organisations[/{id}]` and `GET /v1/merchants[/{id}]`.

Checks, in this order: method (405), key known and not revoked (401 UNAUTHORISED), ability
(403 FORBIDDEN), body or query schema (400 VALIDATION_ERROR with a `field`), the organisation or
integration visible to the key (404 NOT_FOUND), then the business rules (422, the documented codes).
The organisations and merchants endpoints answer organisation-level keys 401 UNAUTHORISED (the
docs), and count requests per endpoint per partner group: over `state.rate_limit` (100, the
documented figure) in the last minute, 429 RATE_LIMITED with `Retry-After`.
Errors use `{"errors": [{"code", "message"}]}`.

The docs name only business errors; for schema problems they leave open, the sandbox answers 400
`VALIDATION_ERROR` naming each bad `field`, as request validators usually do. `null` counts as
absent (an optional field sent as `null` is an omitted field).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, NoReturn

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from sandbox.wire import Refused, Reply, bearer, route
from sandbox.world import (
    CUSTOM_ORDERS,
    DISABLED,
    ENABLED,
    MERCHANTS_READ,
    NAME_MAX_LENGTH,
    ORGANISATION,
    ORGANISATIONS_READ,
    READ,
    STATUSES,
    WRITE,
    Integration,
    Key,
    Merchant,
    Organisation,
)

if TYPE_CHECKING:
    from sandbox.state import SandboxState

NAME, PREFIX = "chargebackstop", "/v1/"
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
SORTS = ("name", "type", "created_at", "updated_at")
ROUTES = Map(
    [
        Rule("/v1/integrations", endpoint="collection", methods=["GET", "POST"]),
        Rule("/v1/integrations/<integration_id>", endpoint="item", methods=["GET", "PATCH"]),
        Rule("/v1/organisations", endpoint="organisations", methods=["GET"]),
        Rule("/v1/organisations/<organisation_id>", endpoint="organisation", methods=["GET"]),
        Rule("/v1/merchants", endpoint="merchants", methods=["GET"]),
        Rule("/v1/merchants/<merchant_id>", endpoint="merchant", methods=["GET"]),
    ],
    merge_slashes=False,
)
MESSAGES = {
    "UNAUTHORISED": "Unauthorised",
    "FORBIDDEN": "Forbidden",
    "NOT_FOUND": "Not found",
    "METHOD_NOT_ALLOWED": "Method not allowed",
    "VALIDATION_ERROR": "Invalid request",
    "DUPLICATE_MERCHANT_IDS": "merchant_ids contains duplicate values",
    "INVALID_MERCHANT_IDS": "One or more merchant_ids are invalid or inaccessible for this organisation",
    "INVALID_INTEGRATION_TYPE": "Only CUSTOM_ORDERS integrations can be created or updated",
    "MISSING_UPDATE_FIELDS": "Provide at least one of status or name",
    "RATE_LIMITED": "Too many requests",
    "INTERNAL_ERROR": "Internal server error",
    "SERVICE_UNAVAILABLE": "Service unavailable",
}
CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORISED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    422: "UNPROCESSABLE_ENTITY",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    503: "SERVICE_UNAVAILABLE",
}


def error(status: int, code: str | None = None) -> Reply:
    code = code or CODES.get(status, "ERROR")
    return Reply(status, {"errors": [{"code": code, "message": MESSAGES.get(code, "Error")}]})


def handle(state: SandboxState, request: Request) -> Reply:
    """Called with the state locked, as every API request is: a create checks and inserts atomically."""
    try:
        endpoint, args = route(ROUTES, request, error)
        method = "GET" if request.method == "HEAD" else request.method
        return _ENDPOINTS[endpoint, method](state, request, **args)
    except Refused as refused:
        return refused.reply


def _refuse(status: int, code: str) -> NoReturn:
    raise Refused(error(status, code))


def _key(state: SandboxState, request: Request, ability: str) -> Key:
    credential = bearer(request)
    key = state.world.keys.get(credential) if credential else None
    if key is None or key.revoked:
        _refuse(401, "UNAUTHORISED")
    if ability not in key.abilities:
        _refuse(403, "FORBIDDEN")
    return key


def _partner_key(state: SandboxState, request: Request, endpoint: str, ability: str) -> Key:
    """The checks of the partner-level endpoints, the rate limit among them."""
    credential = bearer(request)
    key = state.world.keys.get(credential) if credential else None
    if key is None or key.revoked or key.level == ORGANISATION:
        _refuse(401, "UNAUTHORISED")
    wait = state.count_request(endpoint, key.group())
    if wait is not None:
        reply = error(429, "RATE_LIMITED")
        reply.headers["Retry-After"] = str(wait)
        raise Refused(reply)
    if ability not in key.abilities:
        _refuse(403, "FORBIDDEN")
    return key


def _page(state: SandboxState, query: _Checker, items: list[Any]) -> Reply:
    limit = query.number("limit", DEFAULT_LIMIT, maximum=MAX_LIMIT)
    offset = query.number("offset", 0, minimum=0)
    query.check()
    page = items[offset : offset + min(limit, state.max_page_size)]
    return Reply(200, {"items": [item.as_payload() for item in page], "count": len(items)})


def _organisations(state: SandboxState, request: Request) -> Reply:
    key = _partner_key(state, request, "organisations", ORGANISATIONS_READ)
    return _page(state, _Checker(request.args), state.world.visible_organisations(key))


def _organisation(state: SandboxState, request: Request, organisation_id: str) -> Reply:
    key = _partner_key(state, request, "organisation", ORGANISATIONS_READ)
    organisation = state.world.organisations.get(organisation_id)
    if organisation is None or not key.can_see(organisation):
        _refuse(404, "NOT_FOUND")
    return Reply(200, organisation.as_payload())


def _merchants(state: SandboxState, request: Request) -> Reply:
    """Filters: `organisation_id`, `type`, `external_id` exact, `name` a case-insensitive part;
    `sort` one of SORTS, `-` first for descending, `-created_at` by default (newest first)."""
    key = _partner_key(state, request, "merchants", MERCHANTS_READ)
    query = _Checker(request.args)
    sort = request.args.get("sort", "-created_at")
    if sort.removeprefix("-") not in SORTS:
        query.problems.append(("sort", f"sort must be one of: {', '.join(SORTS)} (with '-' for descending)"))
        sort = "-created_at"  # only until `_page` reports every problem of the query at once
    visible = {org.id for org in state.world.visible_organisations(key)}
    args, name = request.args, request.args.get("name", "").casefold()
    merchants = [
        merchant
        for merchant in state.world.merchants.values()
        if merchant.organisation_id in visible
        and args.get("organisation_id", merchant.organisation_id) == merchant.organisation_id
        and args.get("type", merchant.type) == merchant.type
        and ("external_id" not in args or args["external_id"] == merchant.external_id)
        and name in (merchant.name or "").casefold()
    ]
    field = sort.removeprefix("-").replace("updated_at", "created_at")  # never updated in the sandbox
    # Python's sort is stable, descending too: equal keys stay in creation order.
    merchants.sort(key=lambda merchant: _sort_key(merchant, field), reverse=sort.startswith("-"))
    return _page(state, query, merchants)


def _sort_key(merchant: Merchant, field: str) -> Any:
    return (merchant.name or "").casefold() if field == "name" else getattr(merchant, field)


def _merchant(state: SandboxState, request: Request, merchant_id: str) -> Reply:
    key = _partner_key(state, request, "merchant", MERCHANTS_READ)
    merchant = state.world.merchants.get(merchant_id)
    organisation: Organisation | None = state.world.organisations.get(merchant.organisation_id) if merchant else None
    if merchant is None or organisation is None or not key.can_see(organisation):
        _refuse(404, "NOT_FOUND")
    return Reply(200, merchant.as_payload())


def _visible(state: SandboxState, key: Key, integration_id: str) -> Integration:
    integration = state.world.integrations.get(integration_id)
    if integration is None or not key.can_see(state.world.organisations[integration.organisation_id]):
        _refuse(404, "NOT_FOUND")  # someone else's integration is indistinguishable from none
    return integration


def _get(state: SandboxState, request: Request, integration_id: str) -> Reply:
    return Reply(200, _visible(state, _key(state, request, READ), integration_id).as_payload())


def _list(state: SandboxState, request: Request) -> Reply:
    key = _key(state, request, READ)
    query = _Checker(request.args)
    limit = query.number("limit", DEFAULT_LIMIT, maximum=MAX_LIMIT)
    offset = query.number("offset", 0, minimum=0)
    query.check()
    visible = state.world.visible_integrations(key)
    page = visible[offset : offset + min(limit, state.max_page_size)]
    return Reply(200, {"items": [item.as_payload() for item in page], "count": len(visible)})


def _create(state: SandboxState, request: Request) -> Reply:
    key = _key(state, request, WRITE)
    body = _Checker.from_body(request)
    organisation_id = body.text("organisation_id", required=True)
    name = body.text("name", required=True, max_length=NAME_MAX_LENGTH)
    kind = body.text("type", required=True)
    status = body.text("status", choices=STATUSES) or ENABLED
    merchant_ids = body.strings("merchant_ids", required=True)
    body.check()
    organisation = state.world.organisations.get(organisation_id or "")
    if organisation is None or not key.can_see(organisation):
        _refuse(404, "NOT_FOUND")
    if kind != CUSTOM_ORDERS:
        _refuse(422, "INVALID_INTEGRATION_TYPE")
    if len(set(merchant_ids)) != len(merchant_ids):
        _refuse(422, "DUPLICATE_MERCHANT_IDS")
    if not set(merchant_ids) <= set(organisation.merchant_ids):
        _refuse(422, "INVALID_MERCHANT_IDS")
    new_id = state.add_integration(organisation.id, name or "", CUSTOM_ORDERS, status, merchant_ids)
    return Reply(201, state.world.integrations[new_id].as_payload())


def _update(state: SandboxState, request: Request, integration_id: str) -> Reply:
    key = _key(state, request, WRITE)
    body = _Checker.from_body(request)
    # The docs: the only status PATCH accepts is DISABLED; there is no re-enabling through the API.
    status = body.text("status", choices=(DISABLED,))
    name = body.text("name", max_length=NAME_MAX_LENGTH)
    body.check()
    integration = _visible(state, key, integration_id)
    if status is None and name is None:
        _refuse(422, "MISSING_UPDATE_FIELDS")
    if integration.type != CUSTOM_ORDERS:
        _refuse(422, "INVALID_INTEGRATION_TYPE")
    integration.status = status or integration.status
    integration.name = name or integration.name
    return Reply(200, integration.as_payload())


_ENDPOINTS: dict[tuple[str, str], Callable[..., Reply]] = {("collection", "GET"): _list, ("item", "GET"): _get}
_ENDPOINTS |= {("collection", "POST"): _create, ("item", "PATCH"): _update}
_ENDPOINTS |= {("organisations", "GET"): _organisations, ("organisation", "GET"): _organisation}
_ENDPOINTS |= {("merchants", "GET"): _merchants, ("merchant", "GET"): _merchant}


class _Checker:
    """Reads fields of a body or query string, collecting every problem, each naming its field."""

    def __init__(self, data: Any) -> None:
        self.data = data
        self.problems: list[tuple[str, str]] = []

    @classmethod
    def from_body(cls, request: Request) -> _Checker:
        try:
            payload = json.loads(request.get_data(cache=True) or b"null")
            problem = None if isinstance(payload, dict) else "Request body must be a JSON object"
        except (ValueError, UnicodeDecodeError):
            payload, problem = None, "Request body is not valid JSON"
        checker = cls(payload)
        if problem:
            checker.problems.append(("body", problem))
            checker.check()
        return checker

    def text(
        self, name: str, *, required: bool = False, max_length: int | None = None, choices: Iterable[str] = ()
    ) -> str | None:
        value, choices = self.data.get(name), tuple(choices)
        if value is None:
            problem = f"{name} is required" if required else None
        elif not isinstance(value, str):
            problem = f"{name} must be a string"
        elif max_length is not None and not 1 <= len(value) <= max_length:
            problem = f"{name} must be 1-{max_length} characters"
        elif choices and value not in choices:
            problem = f"{name} must be one of: {', '.join(choices)}"
        else:
            return value
        self._problem(name, problem)
        return None

    def strings(self, name: str, *, required: bool = False) -> list[str]:
        """A non-empty list of strings (uniqueness is a business rule, checked later)."""
        value = self.data.get(name)
        if value is None:
            problem = f"{name} is required" if required else None
        elif not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            problem = f"{name} must be a list of strings"
        elif not value:
            problem = f"{name} must not be empty"
        else:
            return value
        self._problem(name, problem)
        return []

    def number(self, name: str, default: int, *, minimum: int = 1, maximum: int | None = None) -> int:
        raw = self.data.get(name)
        if raw is None:
            return default
        value = int(raw) if re.fullmatch(r"[0-9]+", raw) else None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            self._problem(name, f"{name} must be an integer {bounds}")
            return default
        return value

    def _problem(self, name: str, message: str | None) -> None:
        if message:
            self.problems.append((name, message))

    def check(self) -> None:
        if self.problems:
            errors = [
                {"code": "VALIDATION_ERROR", "message": message, "field": name} for name, message in self.problems
            ]
            raise Refused(Reply(400, {"errors": errors}))
