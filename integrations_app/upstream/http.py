"""The one place that makes HTTP calls to the upstream APIs.

Every call has connect and read timeouts plus a deadline for the whole body (a server that
trickles one byte a second never trips a read timeout), a cap on the body size, and retries with
backoff on connection errors, 429 and 5xx for GET only (a retried POST could create twice).
`Retry-After` is honoured up to a cap, so a hostile value cannot park a worker.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError, ReadTimeoutError
from urllib3.util.retry import Retry

from integrations_app.upstream.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    SchemaError,
    TransientError,
    UpstreamError,
)
from integrations_app.upstream.secret import Secret

# What a credential may hold to travel in an Authorization header: printable ASCII, no spaces.
HEADER_SAFE = re.compile(r"[!-~]+")
USER_AGENT = "Paystatus/1.0 (+https://github.com/paystatus; integration monitor)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ErrorDetail:
    """What an upstream error body says, as far as it could be read."""

    code: str = ""
    message: str = ""
    field: str = ""


ErrorParser = Callable[[Any], ErrorDetail]


def build_session() -> requests.Session:
    retry = Retry(
        total=settings.UPSTREAM_RETRIES,
        connect=settings.UPSTREAM_RETRIES,
        read=1,
        status=settings.UPSTREAM_RETRIES,
        other=0,
        allowed_methods=frozenset({"GET"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.3,
        backoff_max=5,
        respect_retry_after_header=True,
        retry_after_max=settings.UPSTREAM_RETRY_AFTER_MAX,
        raise_on_status=False,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.trust_env = False  # a proxy from the environment must not see the tokens
    return session


_local = threading.local()


def shared_session() -> requests.Session:
    """One session per thread: keep-alive within a worker thread, no sharing across threads.
    Rebuilt when the retry settings change (tests and operators may change them at run time)."""
    config = (settings.UPSTREAM_RETRIES, settings.UPSTREAM_RETRY_AFTER_MAX)
    if getattr(_local, "config", None) != config:
        _local.session, _local.config = build_session(), config
    return _local.session


def call(method: str, url: str, **kwargs: Any) -> Any:
    """Like `request`, for callers that only want the decoded body."""
    return request(method, url, **kwargs)[1]


def request(
    method: str,
    url: str,
    *,
    token: Secret,
    parse_error: ErrorParser,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    session: requests.Session | None = None,
) -> tuple[int, Any]:
    """Send one request and return the status and decoded JSON body of a 2xx answer, or raise a
    typed error."""
    if not HEADER_SAFE.fullmatch(token.reveal()):
        # A credential stored past the forms' checks (the admin, an older row) fails as a credential,
        # rather than crashing the poll or the page while the header is encoded.
        raise CredentialError("the stored credential has characters an HTTP header cannot carry; enter it again")
    session = session or shared_session()
    try:
        response = session.request(
            method,
            url,
            params=params,
            json=body,
            headers={"Authorization": f"Bearer {token.reveal()}"},
            timeout=(settings.UPSTREAM_CONNECT_TIMEOUT, settings.UPSTREAM_READ_TIMEOUT),
            stream=True,
            allow_redirects=False,
        )
    except requests.Timeout:
        raise TransientError("the API did not answer in time", reason="timeout") from None
    except requests.ConnectionError as error:
        # Retries exhausted on read timeouts surface as a ConnectionError wrapping the timeout.
        if isinstance(getattr(error.args[0] if error.args else None, "reason", None), ReadTimeoutError):
            raise TransientError("the API did not answer in time", reason="timeout") from None
        raise TransientError("could not connect to the API", reason="connection") from None
    except requests.RequestException as error:
        raise TransientError(f"request failed ({type(error).__name__})", reason="connection") from None

    with response:
        raw = _read_body(response, time.monotonic() + settings.UPSTREAM_BODY_TIMEOUT)
    try:
        return response.status_code, _interpret(response.status_code, raw, parse_error, redact=_redactor(token))
    except UpstreamError as error:
        # An upstream that echoes the token back in its error text must not carry it further.
        error.message = error.message.replace(token.reveal(), token.masked)
        error.args = (error.message,)
        raise


def _read_body(response: requests.Response, deadline: float) -> bytes:
    """Read with `read1`, which returns whatever has arrived, so the deadline is checked even
    when the server sends one byte at a time (a blocking read would wait for a full chunk)."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.raw.read1(65_536, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if size > settings.UPSTREAM_MAX_BODY_BYTES:
                raise SchemaError("the API sent an oversized answer", status=response.status_code)
            if time.monotonic() > deadline:
                raise TransientError("the API answered too slowly", status=response.status_code, reason="timeout")
    except (requests.RequestException, HTTPError, OSError) as error:
        reason = "timeout" if isinstance(error, (ReadTimeoutError, TimeoutError)) else "connection"
        raise TransientError(
            "the connection dropped or stalled while reading the answer", status=response.status_code, reason=reason
        ) from None
    return b"".join(chunks)


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nesting deeper than the stack
        return _NOT_JSON


_NOT_JSON = object()


def _redactor(token: Secret) -> Callable[[str], str]:
    return lambda text: text.replace(token.reveal(), token.masked)


def _interpret(status: int, raw: bytes, parse_error: ErrorParser, *, redact: Callable[[str], str] = str) -> Any:
    payload = _decode(raw)
    if 200 <= status < 300:
        if payload is _NOT_JSON:
            raise SchemaError("the API sent an answer that is not JSON", status=status)
        return payload
    detail = _safe_error_detail(payload, parse_error, redact)
    said = f": {detail.message}" if detail.message else ""
    error: UpstreamError
    if status == 429:
        error = TransientError(f"rate limited (HTTP 429){said}", status=status, code=detail.code, reason="rate_limited")
    elif status >= 500:
        error = TransientError(f"server error (HTTP {status}){said}", status=status, code=detail.code)
    elif status in (401, 403):
        error = CredentialError(f"credential refused (HTTP {status}){said}", status=status, code=detail.code)
    elif status == 404:
        error = NotFoundError(f"not found (HTTP 404){said}", status=status, code=detail.code)
    elif status in (408, 425):
        error = TransientError(f"HTTP {status}{said}", status=status, code=detail.code, reason="timeout")
    else:
        error = InvalidRequestError(
            f"request refused (HTTP {status}){said}", status=status, code=detail.code, field=detail.field
        )
    raise error


def _safe_error_detail(payload: Any, parse_error: ErrorParser, redact: Callable[[str], str]) -> ErrorDetail:
    """Error bodies are untrusted: anything unreadable becomes an empty detail, never a crash."""
    if payload is _NOT_JSON:
        return ErrorDetail()
    try:
        detail = parse_error(payload)
    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
        return ErrorDetail()
    return ErrorDetail(
        code=_printable(detail.code, 64, redact),
        message=_printable(detail.message, 300, redact),
        field=_printable(detail.field, 64, redact),
    )


def _printable(value: object, limit: int, redact: Callable[[str], str]) -> str:
    """Printable characters only, an echoed credential masked, then cut to `limit`: masked before
    the cut, so a credential straddling the limit cannot leave its first characters behind."""
    if not isinstance(value, str):
        return ""
    return redact("".join(ch for ch in value if ch.isprintable()))[:limit]
