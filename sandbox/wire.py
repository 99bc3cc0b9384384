"""What both simulated APIs share on the wire: a `Reply` (kept as data until the last moment, so
faults can still reshape it) and reading the bearer credential."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

JSON = "application/json"


@dataclass
class Reply:
    status: int
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of `payload` (bodies that are not JSON)
    content_type: str = JSON

    def body(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.payload, separators=(",", ":")).encode()

    def to_response(self) -> Response:
        return Response(self.body(), status=self.status, headers=self.headers, content_type=self.content_type)


def bearer(request: Request) -> str | None:
    """The credential of `Authorization: Bearer <credential>`, or None when absent or malformed."""
    scheme, _, credential = request.headers.get("Authorization", "").strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential or " " in credential:
        return None
    return credential


def normalised_path(path: str) -> str:
    """Both APIs answer with or without one trailing slash, and never redirect."""
    return path.removesuffix("/") if path != "/" else path
