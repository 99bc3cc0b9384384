"""Simulated ChargebackStop: `GET/POST /v1/integrations/`, `GET/PATCH /v1/integrations/{id}`.

Checks, in this order: method (405), key known and not revoked (401 UNAUTHORISED), ability
(403 FORBIDDEN), body or query schema (400 VALIDATION_ERROR with a `field`), the organisation or
integration visible to the key (404 NOT_FOUND), then the business rules (422, the documented codes).
Errors use `{"errors": [{"code", "message"}]}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NoReturn

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from integrations_app.sandbox.state import SandboxState
from integrations_app.sandbox.validation import BodyChecker, Problem
from integrations_app.sandbox.wire import Reply, bearer, normalised_path
from integrations_app.sandbox.world import (
    CUSTOM_ORDERS,
    DISABLED,
    ENABLED,
    READ,
    STATUSES,
    WRITE,
    ApiKey,
    Integration,
    World,
)

NAME = "chargebackstop"
PREFIX = "/v1/"
DEFAULT_LIMIT, MAX_LIMIT = 20, 100

_ROUTES = Map(
    [
        Rule("/v1/integrations", endpoint="collection", methods=["GET", "POST"]),
        Rule("/v1/integrations/<integration_id>", endpoint="item", methods=["GET", "PATCH"]),
    ],
    merge_slashes=False,
)
_WHOLE_NUMBER = re.compile(r"^[0-9]+$")

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


class _Refused(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _refuse(status: int, code: str) -> NoReturn:
    raise _Refused(error(status, code))


def handle(state: SandboxState, request: Request) -> Reply:
    method = "GET" if request.method == "HEAD" else request.method
    try:
        endpoint, args = _match(request)
        with state.locked() as world:
            return _ENDPOINTS[endpoint, method](state, world, request, **args)
    except _Refused as refused:
        return refused.reply
    except Problem as problem:
        return Reply(400, {"errors": problem.as_errors()})


def _match(request: Request) -> tuple[str, dict[str, str]]:
    try:
        return _ROUTES.bind("sandbox").match(normalised_path(request.path), method=request.method)
    except MethodNotAllowed as refused:
        reply = error(405)
        reply.headers["Allow"] = ", ".join(sorted(refused.valid_methods or ()))
        raise _Refused(reply) from None
    except NotFound:
        _refuse(404, "NOT_FOUND")


def _key(world: World, request: Request, ability: str) -> ApiKey:
    credential = bearer(request)
    key = world.keys.get(credential) if credential else None
    if key is None or key.revoked:
        _refuse(401, "UNAUTHORISED")
    if ability not in key.abilities:
        _refuse(403, "FORBIDDEN")
    return key


def _visible(world: World, key: ApiKey, integration_id: str) -> Integration:
    integration = world.integrations.get(integration_id)
    if integration is None or not key.can_see(world.organisations[integration.organisation_id]):
        _refuse(404, "NOT_FOUND")  # someone else's integration is indistinguishable from none
    return integration


def _get(state: SandboxState, world: World, request: Request, integration_id: str) -> Reply:
    return Reply(200, _visible(world, _key(world, request, READ), integration_id).as_payload())


def _list(state: SandboxState, world: World, request: Request) -> Reply:
    key = _key(world, request, READ)
    limit = _query_number(request, "limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    offset = _query_number(request, "offset", 0, minimum=0)
    visible = world.visible_integrations(key)
    page = visible[offset : offset + min(limit, state.max_page_size)]
    return Reply(200, {"items": [item.as_payload() for item in page], "count": len(visible)})


def _query_number(request: Request, name: str, default: int, *, minimum: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
    value = int(raw) if _WHOLE_NUMBER.match(raw) else None
    if value is None or value < minimum or (maximum is not None and value > maximum):
        raise Problem(name, f"{name} must be an integer {bounds}")
    return value


def _create(state: SandboxState, world: World, request: Request) -> Reply:
    key = _key(world, request, WRITE)
    body = BodyChecker.from_request(request)
    organisation_id = body.text("organisation_id", required=True)
    name = body.text("name", required=True, max_length=255)
    kind = body.text("type", required=True)
    status = body.text("status", choices=STATUSES) or ENABLED
    merchant_ids = body.strings("merchant_ids", required=True)
    body.check()
    organisation = world.organisations.get(organisation_id or "")
    if organisation is None or not key.can_see(organisation):
        _refuse(404, "NOT_FOUND")
    if kind != CUSTOM_ORDERS:
        _refuse(422, "INVALID_INTEGRATION_TYPE")
    if len(set(merchant_ids)) != len(merchant_ids):
        _refuse(422, "DUPLICATE_MERCHANT_IDS")
    if not set(merchant_ids) <= set(organisation.merchant_ids):
        _refuse(422, "INVALID_MERCHANT_IDS")
    integration = Integration(
        id=state.new_integration_id(),
        organisation_id=organisation.id,
        name=name or "",
        type=CUSTOM_ORDERS,
        status=status,
        merchant_ids=list(merchant_ids),
    )
    world.integrations[integration.id] = integration
    return Reply(201, integration.as_payload())


def _update(state: SandboxState, world: World, request: Request, integration_id: str) -> Reply:
    key = _key(world, request, WRITE)
    body = BodyChecker.from_request(request)
    # The docs: the only status PATCH accepts is DISABLED; there is no re-enabling through the API.
    status = body.text("status", choices=(DISABLED,))
    name = body.text("name", max_length=255)
    body.check()
    integration = _visible(world, key, integration_id)
    if status is None and name is None:
        _refuse(422, "MISSING_UPDATE_FIELDS")
    if integration.type != CUSTOM_ORDERS:
        _refuse(422, "INVALID_INTEGRATION_TYPE")
    if status is not None:
        integration.status = status
    if name is not None:
        integration.name = name
    return Reply(200, integration.as_payload())


_ENDPOINTS: dict[tuple[str, str], Callable[..., Reply]] = {
    ("collection", "GET"): _list,
    ("collection", "POST"): _create,
    ("item", "GET"): _get,
    ("item", "PATCH"): _update,
}
