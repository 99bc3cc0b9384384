"""What both simulated APIs share on the wire: a `Reply` (kept as data until the last moment, so
faults can still reshape it), routing that never redirects, and reading the bearer credential."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map
from werkzeug.wrappers import Request, Response


@dataclass
class Reply:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of `payload` (bodies that are not JSON)
    content_type: str = "application/json"

    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.payload, separators=(",", ":")).encode()

    def to_response(self) -> Response:
        return Response(self.body(), status=self.status, headers=self.headers, content_type=self.content_type)


class Refused(Exception):
    """Raised by a handler to answer with `reply` at once (an API error)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def route(routes: Map, request: Request, error: Callable[[int], Reply]) -> tuple[Any, Mapping[str, Any]]:
    """The endpoint and path arguments; an unknown path is the API's own 404 and a wrong method its
    405 with `Allow`. Both APIs answer with or without one trailing slash, and never redirect."""
    path = request.path.removesuffix("/") if request.path != "/" else request.path
    try:
        return routes.bind("sandbox").match(path, method=request.method)
    except MethodNotAllowed as refused:
        reply = error(405)
        reply.headers["Allow"] = ", ".join(sorted(refused.valid_methods or ()))
        raise Refused(reply) from None
    except NotFound:
        raise Refused(error(404)) from None


def bearer(request: Request) -> str | None:
    """The credential of `Authorization: Bearer <credential>`, or None when absent or malformed."""
    scheme, _, credential = request.headers.get("Authorization", "").strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or " " in credential:
        return None
    return credential
