"""Simulated DataFast: `GET /api/v1/admin/websites/{websiteId}/integrations` and
`GET /api/v1/admin/websites` (the websites a token may read).

Checks, in this order: method (405), bearer `dft_` token known and not revoked (401), the scope
(403: `settings:read` for integrations, `websites:read` for the listing); for integrations then
websiteId an ObjectId (400), website exists (404), token may read that website (403). The listing
has no paging (none is documented): it is the token's allowlist, in the scenario's order, each with
the caller's role. Errors use DataFast's general envelope
`{"status": "error", "error": {"code", "message"}}`; the codes are ours (the docs give none).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from sandbox.wire import Refused, Reply, bearer, route
from sandbox.world import OBJECT_ID, SETTINGS_READ, WEBSITES_READ, Token

if TYPE_CHECKING:
    from sandbox.state import SandboxState

NAME, PREFIX = "datafast", "/api/"
ROUTES = Map(
    [
        Rule("/api/v1/admin/websites", endpoint="websites", methods=["GET"]),
        Rule("/api/v1/admin/websites/<website_id>/integrations", endpoint="integrations", methods=["GET"]),
    ],
    merge_slashes=False,
)
CODES, MESSAGES = {429: "RATE_LIMITED", 500: "INTERNAL_ERROR"}, {400: "Invalid request"}


def error(status: int, message: str | None = None) -> Reply:
    """`FORBIDDEN`, `Forbidden`: the code and message from the HTTP status, unless given."""
    known = status in HTTPStatus._value2member_map_
    code = CODES.get(status) or (HTTPStatus(status).name if known else "ERROR")
    text = message or MESSAGES.get(status) or (HTTPStatus(status).phrase.capitalize() if known else "Error")
    return Reply(status, {"status": "error", "error": {"code": code, "message": text}})


def handle(state: SandboxState, request: Request) -> Reply:
    """Called with the state locked, as every API request is."""
    try:
        endpoint, args = route(ROUTES, request, error)
        if endpoint == "websites":
            return _websites(state, _token(state, request, WEBSITES_READ))
        return _integrations(state, _token(state, request, SETTINGS_READ), args["website_id"])
    except Refused as refused:
        return refused.reply


def _token(state: SandboxState, request: Request, scope: str) -> Token:
    credential = bearer(request)
    if credential is None:
        raise Refused(error(401, "Missing or malformed Authorization header (expected 'Bearer dft_...')"))
    token = state.world.tokens.get(credential)
    if token is None or token.revoked:
        raise Refused(error(401, "Invalid or revoked API token"))
    if scope not in token.scopes:
        raise Refused(error(403, f"This token lacks the '{scope}' permission"))
    return token


def _websites(state: SandboxState, token: Token) -> Reply:
    reachable = token.reachable()
    data = [site.as_listed(token.role(site.id)) for site in state.world.websites.values() if site.id in reachable]
    return Reply(200, {"status": "success", "data": data})


def _integrations(state: SandboxState, token: Token, website_id: str) -> Reply:
    if not OBJECT_ID.match(website_id):
        return error(400, "Invalid website ID (expected a 24-character ObjectId)")
    website = state.world.websites.get(website_id)
    if website is None:
        return error(404, "Website not found")
    if website_id not in token.reachable():
        return error(403, "This token does not have access to this website")
    return Reply(200, {"status": "success", "data": [website.as_payload()]})
