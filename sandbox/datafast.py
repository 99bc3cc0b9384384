"""Simulated DataFast: `GET /api/v1/admin/websites/{websiteId}/integrations`.

Checks, in this order: method (405), bearer `dft_` token known and not revoked (401), the
`settings:read` scope (403), websiteId an ObjectId (400), website exists (404), token may read
that website (403). Errors use DataFast's general envelope
`{"status": "error", "error": {"code", "message"}}`; the codes are ours (the docs give none).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from sandbox.wire import Refused, Reply, bearer, route
from sandbox.world import OBJECT_ID, SETTINGS_READ

if TYPE_CHECKING:
    from sandbox.state import SandboxState

NAME, PREFIX = "datafast", "/api/"
ROUTES = Map(
    [Rule("/api/v1/admin/websites/<website_id>/integrations", endpoint="integrations", methods=["GET"])],
    merge_slashes=False,
)
CODES, MESSAGES = {429: "RATE_LIMITED", 500: "INTERNAL_ERROR"}, {400: "Invalid request"}


def error(status: int, message: str | None = None) -> Reply:
    """`FORBIDDEN`, `Forbidden`: the code and message from the HTTP status, unless given."""
    known = status in HTTPStatus._value2member_map_
    code = CODES.get(status) or (HTTPStatus(status).name if known else "ERROR")
    text = message or MESSAGES.get(status) or (HTTPStatus(status).phrase.capitalize() if known else "Error")
    return Reply(status, {"status": "error", "error": {"code": code, "message": text}})


def handle(state: SandboxState, request: Request) -> Reply:  # noqa: PLR0911 (one return per documented check)
    """Called with the state locked, as every API request is."""
    world = state.world
    try:
        _, args = route(ROUTES, request, error)
    except Refused as refused:
        return refused.reply
    website_id, credential = args["website_id"], bearer(request)
    if credential is None:
        return error(401, "Missing or malformed Authorization header (expected 'Bearer dft_...')")
    token = world.tokens.get(credential)
    if token is None or token.revoked:
        return error(401, "Invalid or revoked API token")
    if SETTINGS_READ not in token.scopes:
        return error(403, f"This token lacks the '{SETTINGS_READ}' permission")
    if not OBJECT_ID.match(website_id):
        return error(400, "Invalid website ID (expected a 24-character ObjectId)")
    website = world.websites.get(website_id)
    if website is None:
        return error(404, "Website not found")
    if website_id not in token.websites:
        return error(403, "This token does not have access to this website")
    return Reply(200, {"status": "success", "data": [website.as_payload()]})
