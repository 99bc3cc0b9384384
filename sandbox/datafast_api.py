"""Simulated DataFast: `GET /api/v1/admin/websites/{websiteId}/integrations`.

Checks, in this order: method (405), bearer `dft_` token known and not revoked (401), the
`settings:read` scope (403), websiteId an ObjectId (400), website exists (404), token may read
that website (403). Errors use DataFast's general envelope
`{"status": "error", "error": {"code", "message"}}`; the codes are ours (the docs give none).
"""

from __future__ import annotations

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from integrations_app.sandbox.state import SandboxState
from integrations_app.sandbox.wire import Reply, bearer, normalised_path
from integrations_app.sandbox.world import OBJECT_ID, SETTINGS_READ

NAME = "datafast"
PREFIX = "/api/"

_ROUTES = Map(
    [Rule("/api/v1/admin/websites/<website_id>/integrations", endpoint="integrations", methods=["GET"])],
    merge_slashes=False,
)

CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}
MESSAGES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def error(status: int, message: str | None = None) -> Reply:
    code = CODES.get(status, "ERROR")
    text = message or MESSAGES.get(status, "Error")
    return Reply(status, {"status": "error", "error": {"code": code, "message": text}})


def handle(state: SandboxState, request: Request) -> Reply:
    try:
        _, args = _ROUTES.bind("sandbox").match(normalised_path(request.path), method=request.method)
    except MethodNotAllowed as refused:
        reply = error(405)
        reply.headers["Allow"] = ", ".join(sorted(refused.valid_methods or ()))
        return reply
    except NotFound:
        return error(404, "Endpoint not found")
    return _integrations(state, bearer(request), args["website_id"])


def _integrations(  # noqa: PLR0911 (one return per documented check, in the documented order)
    state: SandboxState, credential: str | None, website_id: str
) -> Reply:
    if credential is None:
        return error(401, "Missing or malformed Authorization header (expected 'Bearer dft_...')")
    with state.locked() as world:
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
        if website_id not in token.website_ids:
            return error(403, "This token does not have access to this website")
        return Reply(200, {"status": "success", "data": [website.as_payload()]})
