"""Typed upstream errors. Each says what the caller should do:

- TransientError: try again later; keep the last good state (timeouts, 429, 5xx, dropped connections).
- CredentialError: the key or token was refused (401/403); flag the credential.
- NotFoundError: the website, organisation or integration is not there (404).
- InvalidRequestError: the request was refused as invalid (400/422); show the user, with the field.
- SchemaError: the answer is not what the docs promise (bad JSON, missing or mistyped fields).

Messages never contain a secret: they are built from status codes and upstream error codes only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class UpstreamError(Exception):
    kind = "upstream"

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class TransientError(UpstreamError):
    kind = "transient"

    def __init__(
        self, message: str, *, status: int | None = None, code: str = "", reason: str = "server_error"
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.reason = reason  # timeout, connection, rate_limited, server_error


class CredentialError(UpstreamError):
    kind = "credential"


class NotFoundError(UpstreamError):
    kind = "not_found"


class InvalidRequestError(UpstreamError):
    kind = "invalid_request"

    def __init__(self, message: str, *, status: int | None = None, code: str = "", field: str = "") -> None:
        super().__init__(message, status=status, code=code)
        self.field = field


class SchemaError(UpstreamError):
    kind = "schema"


@contextmanager
def answered_with(status: int) -> Iterator[None]:
    """Parsing a 2xx answer: a SchemaError raised inside carries the answer's HTTP status."""
    try:
        yield
    except SchemaError as error:
        error.status = error.status or status
        raise
