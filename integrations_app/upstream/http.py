"""The one place that makes HTTP calls to the upstream APIs.

Every call has one wall-clock deadline, from connect to the last byte, which this module enforces
itself: a watchdog thread shuts the socket down when it passes, whatever the server does (headers
sent one line at a time, a body that trickles or never ends) and whatever the per-read timeouts
would allow. Connect and read timeouts still apply inside it, the body is capped in size, and a
caller may pass an earlier deadline (a whole ChargebackStop listing, a "Test connection").

Retries are done here, not by urllib3: GET only (a retried POST could create twice), on connection
errors, one read timeout, 429 and 5xx. The error body of a 429 or 5xx is read only up to a few KB and
a few seconds, then the connection is closed, so a body that streams for ever cannot hold a retry.
`Retry-After` is honoured up to a cap, and never past the deadline.

A request may carry a `Budget` (upstream/budget.py): every attempt, retries included, then waits
for its slot in the credential's per-endpoint budget, shared by every process; a 429 moves that
budget's next slot back by its Retry-After, so the wait is the budget's, for every process at once.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, ReadTimeoutError
from urllib3.util.retry import Retry

from integrations_app.upstream import budget as budgets
from integrations_app.upstream.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    SchemaError,
    TransientError,
    UpstreamError,
)
from integrations_app.upstream.secret import Secret

logger = logging.getLogger(__name__)

# What a credential may hold to travel in an Authorization header: printable ASCII, no spaces.
HEADER_SAFE = re.compile(r"[!-~]+")
USER_AGENT = "Paystatus/1.0 (+https://github.com/paystatus; integration monitor)"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRY_AFTER_STATUSES = frozenset({429, 503})
ERROR_BODY_MAX_BYTES = 65_536  # enough for any error envelope; a longer one is cut, not read on
BACKOFF = 0.3  # seconds before the second retry, doubled after each
WATCHDOG_TICK = 0.05  # a deadline is enforced at most this late


@dataclass(frozen=True)
class ErrorDetail:
    """What an upstream error body says, as far as it could be read."""

    code: str = ""
    message: str = ""
    field: str = ""


ErrorParser = Callable[[Any], ErrorDetail]


class Interrupted(Exception):
    """The process is stopping: calls in flight were cut and no new one starts. Not an upstream
    fault, so a poll that meets it records nothing and is dispatched again after its lease."""


# --- deadlines ------------------------------------------------------------------------------


class Deadline:
    """One request attempt's wall-clock limit. Sockets opened or used under it are shut down by the
    watchdog when it passes (or when the process is interrupted), which wakes a blocked read."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            if sock not in self._sockets:
                self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shut(sock)

    def tighten(self, at: float) -> None:
        """Bring the deadline forward (never back): the body phase may have a shorter limit."""
        if at < self.at:
            self.at = at
            _watchdog.arm(self)

    def release(self) -> None:
        """The attempt is over: forget its sockets (a kept-alive one goes on to other requests)."""
        with self._lock:
            self._sockets.clear()

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    # socket.socket.shutdown, not SSLSocket.shutdown: the descriptor is shut for the thread blocked
    # in a read, and the TLS object it is using is left alone.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Watchdog:
    """One daemon thread per process that expires deadlines as they pass."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._armed: set[Deadline] = set()
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, deadline: Deadline) -> None:
        with self._wake:
            self._armed.add(deadline)
            idle = not self._heap
            heapq.heappush(self._heap, (deadline.at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="upstream-deadlines", daemon=True)
                self._thread.start()
            # The thread looks again at least every TICK while deadlines are armed, so it needs
            # waking only from its idle wait or for a deadline nearer than that: a wake-up per
            # request (two, with the body's limit) cost a thread switch each for nothing.
            if idle or deadline.at - time.monotonic() < WATCHDOG_TICK:
                self._wake.notify()

    def disarm(self, deadline: Deadline) -> None:
        with self._wake:
            self._armed.discard(deadline)

    def expire_all(self) -> None:
        with self._wake:
            armed = list(self._armed)
        for deadline in armed:
            deadline.expire()

    def _run(self) -> None:
        while True:
            due: list[Deadline] = []
            with self._wake:
                while self._heap and (self._heap[0][2] not in self._armed or self._heap[0][0] != self._heap[0][2].at):
                    heapq.heappop(self._heap)  # finished, or brought forward (a newer entry exists)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(min(wait, WATCHDOG_TICK))
                    continue
                while self._heap and self._heap[0][0] <= time.monotonic():
                    _, _, deadline = heapq.heappop(self._heap)
                    if deadline in self._armed and deadline.at <= time.monotonic():
                        self._armed.discard(deadline)
                        due.append(deadline)
            for deadline in due:
                deadline.expire()


_watchdog = _Watchdog()
_local = threading.local()
_stopping = threading.Event()


_interrupt_hooks: list[Callable[[], None]] = []  # the async client's: it cuts its own calls


def on_interrupt(hook: Callable[[], None]) -> None:
    _interrupt_hooks.append(hook)


def stopping() -> bool:
    return _stopping.is_set()


def interrupt_all() -> None:
    """Cut every call in flight in this process, of both clients, and refuse new ones (a worker
    told to stop)."""
    _stopping.set()
    _watchdog.expire_all()
    for hook in _interrupt_hooks:
        hook()


def resume() -> None:
    """Allow calls again after `interrupt_all` (tests)."""
    _stopping.clear()


@contextlib.contextmanager
def _under(deadline: Deadline) -> Iterator[Deadline]:
    _local.deadline = deadline
    _watchdog.arm(deadline)
    try:
        yield deadline
    finally:
        _watchdog.disarm(deadline)
        deadline.release()
        _local.deadline = None


def _watch_current(sock: socket.socket | None) -> None:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _WatchedConnectionMixin:
    """Puts every socket a request uses, new or kept alive, under the current thread's deadline."""

    sock: socket.socket | None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        _watch_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch_current(self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_WatchedConnectionMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedConnectionMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


# --- sessions -------------------------------------------------------------------------------


def build_session() -> requests.Session:
    # No retries in urllib3: it would drain a retried answer's body with no deadline.
    adapter = _DeadlineAdapter(
        max_retries=Retry(total=0, redirect=False, raise_on_status=False), pool_connections=4, pool_maxsize=4
    )
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    session.trust_env = False  # a proxy from the environment must not see the tokens
    return session


def shared_session() -> requests.Session:
    """One session per thread: keep-alive within a worker thread, no sharing across threads."""
    session: requests.Session | None = getattr(_local, "session", None)
    if session is None:
        session = _local.session = build_session()
    return session


# --- requests -------------------------------------------------------------------------------


def request(
    method: str,
    url: str,
    *,
    token: Secret,
    parse_error: ErrorParser,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    session: requests.Session | None = None,
    deadline: float | None = None,
    budget: budgets.Budget | None = None,
) -> tuple[int, Any]:
    """Send one request and return the status and decoded JSON body of a 2xx answer, or raise a
    typed error. It ends by `UPSTREAM_REQUEST_DEADLINE` from now, or by `deadline` (a
    `time.monotonic()` value) if that is earlier, retries included."""
    return request_sized(
        method,
        url,
        token=token,
        parse_error=parse_error,
        params=params,
        body=body,
        session=session,
        deadline=deadline,
        budget=budget,
    )[:2]


def request_sized(
    method: str,
    url: str,
    *,
    token: Secret,
    parse_error: ErrorParser,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    session: requests.Session | None = None,
    deadline: float | None = None,
    budget: budgets.Budget | None = None,
) -> tuple[int, Any, int]:
    """`request`, also returning the size in bytes of the answer's body (a listing's budget)."""
    policy = Policy(method, url, token, budget, deadline)
    send = _Sender(method, url, policy, params, body, session or shared_session())
    while True:
        try:
            _pause(policy.before_attempt())
            status, raw, retry_after = send(policy.limit)
        except _Retryable as failure:
            _pause(policy.after_failure(failure))
            continue
        wait = policy.after_answer(status, retry_after)
        if wait is None:
            return policy.result(status, raw, parse_error)
        _pause(wait)


class Policy:
    """What both clients do around their attempts (this one and `http_async`): the credential's
    header check, the one deadline, which failures and answers are retried and after how long,
    the budget's slots, and the masking of an echoed credential. The clients only send."""

    def __init__(
        self, method: str, url: str, token: Secret, budget: budgets.Budget | None, deadline: float | None
    ) -> None:
        if not HEADER_SAFE.fullmatch(token.reveal()):
            # A credential stored past the forms' checks (the admin, an older row) fails as a
            # credential, rather than crashing the poll or the page while the header is encoded.
            raise CredentialError("the stored credential has characters an HTTP header cannot carry; enter it again")
        self.method, self.url, self.token, self.budget = method, url, token, budget
        limit = time.monotonic() + settings.UPSTREAM_REQUEST_DEADLINE
        self.limit = min(limit, deadline) if deadline is not None else limit
        self.retries = settings.UPSTREAM_RETRIES if method == "GET" else 0
        self.attempt = 0
        self.read_timeouts = 0

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.reveal()}"}

    def before_attempt(self) -> float:
        """Seconds to wait for this attempt's slot in the budget (0 without one)."""
        return _spend(self.token, self.budget, self.limit) if self.budget is not None else 0.0

    def after_failure(self, failure: _Retryable) -> float:
        """Seconds to wait before the next attempt; raises the failure's error when none is made."""
        self.read_timeouts += failure.error.reason == "timeout"
        wait = self._backoff()
        if self.attempt >= self.retries or self.read_timeouts > 1 or not _retry_fits(self.limit, wait):
            raise failure.error from None
        _log_retry(self.method, self.url, failure.error.message)
        self.attempt += 1
        return wait

    def after_answer(self, status: int, retry_after: float | None) -> float | None:
        """Seconds to wait before trying again, or None: this answer is the one to interpret."""
        if status == 429 and self.budget is not None:
            budgets.defer(self.token, self.budget, retry_after if retry_after is not None else self.budget.interval)
        if status not in RETRY_STATUSES or self.attempt >= self.retries:
            return None
        wait = retry_after if retry_after is not None else self._backoff()
        if not _retry_fits(self.limit, wait):
            return None
        _log_retry(self.method, self.url, f"HTTP {status}")
        self.attempt += 1
        return 0.0 if status == 429 and self.budget is not None else wait  # the budget holds the retry back

    def result(self, status: int, raw: bytes, parse_error: ErrorParser) -> tuple[int, Any, int]:
        try:
            return status, _interpret(status, raw, parse_error, redact=_redactor(self.token)), len(raw)
        except UpstreamError as error:
            # An upstream that echoes the token back in its error text must not carry it further.
            error.message = error.message.replace(self.token.reveal(), self.token.masked)
            error.args = (error.message,)
            raise

    def _backoff(self) -> float:
        return BACKOFF * 2 ** (self.attempt - 1) if self.attempt else 0.0


def _spend(token: Secret, budget: budgets.Budget, limit: float) -> float:
    """Reserve this attempt's slot in the credential's budget and return the wait for it; fail as
    rate limited (transient), sending nothing, when the slot is past the deadline."""
    try:
        return budgets.reserve(token, budget, longest=limit - time.monotonic() - 0.1)
    except budgets.BudgetSpent:
        raise TransientError(
            f"held back: this key's budget of {budget.per_minute} requests a minute to {budget.endpoint} "
            "has no free slot before the deadline",
            reason="rate_limited",
            code=budgets.HELD_BACK,
        ) from None


class _Retryable(Exception):
    """Internal: an attempt that failed in a way worth trying again."""

    def __init__(self, error: TransientError) -> None:
        self.error = error


@dataclass(frozen=True)
class _Sender:
    """One attempt of a request, under its deadline."""

    method: str
    url: str
    policy: Policy  # its token is a Secret: the header is built at the send, never kept in clear
    params: dict[str, Any] | None
    body: dict[str, Any] | None
    session: requests.Session

    def __call__(self, limit: float) -> tuple[int, bytes, float | None]:
        if _stopping.is_set():
            raise Interrupted("the worker is shutting down")
        remaining = limit - time.monotonic()
        if remaining <= 0:
            raise TransientError("no time was left to ask the API", reason="timeout")
        with _under(Deadline(limit)) as deadline:
            response = self._send(deadline, remaining)
            if deadline.expired:
                # Cut while the headers were arriving: http.client takes the shut socket for their
                # end, so the status line it read says nothing about an answer.
                response.close()
                if _stopping.is_set():
                    raise Interrupted("the worker is shutting down")
                raise TransientError("the API did not answer before the deadline", reason="timeout")
            with response:
                status = response.status_code
                raw = self._body(response, deadline)
                retry_after = _retry_after(response) if status in RETRY_AFTER_STATUSES else None
        return status, raw, retry_after

    def _send(self, deadline: Deadline, remaining: float) -> requests.Response:
        timeout = (min(settings.UPSTREAM_CONNECT_TIMEOUT, remaining), min(settings.UPSTREAM_READ_TIMEOUT, remaining))
        try:
            return self.session.request(
                self.method,
                self.url,
                params=self.params,
                json=self.body,
                headers=self.policy.headers(),
                timeout=timeout,
                stream=True,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            raise self._failed(error, deadline) from None

    def _failed(self, error: Exception, deadline: Deadline) -> Exception:
        if _stopping.is_set():
            return Interrupted("the worker is shutting down")
        if deadline.expired:
            return TransientError("the API did not answer before the deadline", reason="timeout")
        timed_out = isinstance(error, requests.Timeout) or isinstance(
            getattr(error.args[0] if error.args else None, "reason", None), ReadTimeoutError
        )
        if timed_out:
            return _Retryable(TransientError("the API did not answer in time", reason="timeout"))
        if isinstance(error, requests.ConnectionError):
            return _Retryable(TransientError("could not connect to the API", reason="connection"))
        return TransientError(f"request failed ({type(error).__name__})", reason="connection")

    def _body(self, response: requests.Response, deadline: Deadline) -> bytes:
        status = response.status_code
        if 200 <= status < 300:
            deadline.tighten(time.monotonic() + settings.UPSTREAM_BODY_TIMEOUT)
            return _read_body(response, deadline, max_bytes=settings.UPSTREAM_MAX_BODY_BYTES)
        # An error body is read only so far: enough for its message, never long enough to hold a retry.
        deadline.tighten(time.monotonic() + settings.UPSTREAM_ERROR_BODY_SECONDS)
        try:
            return _read_body(response, deadline, max_bytes=ERROR_BODY_MAX_BYTES, truncate=True)
        except (TransientError, SchemaError):
            if _stopping.is_set():
                raise Interrupted("the worker is shutting down") from None
            return b""  # the status alone decides; the connection is closed, not drained


def _read_body(response: requests.Response, deadline: Deadline, *, max_bytes: int, truncate: bool = False) -> bytes:
    """Read with `read1`, which returns whatever has arrived; the watchdog shuts the socket when the
    deadline passes, which ends a read that is waiting."""
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := response.raw.read1(65_536, decode_content=True):
            chunks.append(chunk)
            size += len(chunk)
            if size > max_bytes:
                if truncate:
                    break
                raise SchemaError("the API sent an oversized answer", status=response.status_code)
            if deadline.expired:
                break
    except (requests.RequestException, HTTPError, OSError) as error:
        if _stopping.is_set():
            raise Interrupted("the worker is shutting down") from None
        if not deadline.expired:
            reason = "timeout" if isinstance(error, (ReadTimeoutError, TimeoutError)) else "connection"
            raise TransientError(
                "the connection dropped or stalled while reading the answer",
                status=response.status_code,
                reason=reason,
            ) from None
    if deadline.expired:
        if _stopping.is_set():
            raise Interrupted("the worker is shutting down")
        raise TransientError("the API answered too slowly", status=response.status_code, reason="timeout")
    return b"".join(chunks)[:max_bytes]


WHOLE_SECONDS = re.compile(r"[0-9]{1,9}")


def _retry_after(response: requests.Response) -> float | None:
    return retry_after_seconds(response.headers.get("Retry-After", ""))


def retry_after_seconds(value: str) -> float | None:
    """Seconds from a `Retry-After` header (a number or an HTTP date), capped; None if absent or bad."""
    value = value.strip()
    if not value:
        return None
    if WHOLE_SECONDS.fullmatch(value):  # not str.isdigit(): '²' is a digit to it, and float('²') raises
        seconds = float(value)
    else:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return max(0.0, min(seconds, settings.UPSTREAM_RETRY_AFTER_MAX))


def _retry_fits(limit: float, wait: float) -> bool:
    """A retry is worth starting only if, after its wait, some of the deadline is left."""
    return time.monotonic() + wait < limit - 0.1


def _pause(seconds: float) -> None:
    if seconds > 0 and _stopping.wait(seconds):
        raise Interrupted("the worker is shutting down")
    if _stopping.is_set():
        raise Interrupted("the worker is shutting down")


def _log_retry(method: str, url: str, why: str) -> None:
    # Method, host and path only: never the query string or a header, where credentials may be.
    parts = urlsplit(url)
    logger.info("retrying %s %s%s after %s", method, parts.netloc, parts.path, why)


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
