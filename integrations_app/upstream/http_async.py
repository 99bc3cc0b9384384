"""The poll path's HTTP client: asyncio and aiohttp, under the policy of `upstream/http.py`.

A worker polls a batch of sources concurrently on one event loop per process (a daemon thread,
`run`), instead of one thread per poll: the measurements of issue 15 put `requests` and a thread
per poll at a quarter of a poll's CPU. Only the sending differs from the `requests` client; what
is asked, retried, waited for, budgeted and masked is `http.Policy`, the same object:

- one wall-clock deadline per request, retries included (`asyncio.timeout`: the loop cancels the
  read, whatever the server sends); connect and read timeouts inside it; the body has its own
  limit once the headers are in, an error body a shorter one and a size cap, and is then dropped
  with its connection, not drained;
- the same retries, `Retry-After`, User-Agent, and no proxy from the environment (aiohttp's
  `trust_env` is off); no budgets (a reservation is a blocking Redis call: not on the loop);
- at most `in_flight` requests at once per upstream host in this process (`configure`; a worker
  sets it to its share of POLL_CONCURRENCY). A request's deadline, and a poll's clock, start once
  it has its slot (`turn`), and the slot is given back while it waits to retry;
- `http.interrupt_all` cuts these calls too: they end as `http.Interrupted`.

`requests` stays for forms, commands and the one-off checks (a page thread has no loop to lend).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import contextvars
import os
import re
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings

from integrations_app.upstream import http
from integrations_app.upstream.errors import SchemaError, TransientError
from integrations_app.upstream.secret import Secret

T = TypeVar("T")
READ_CHUNK = 65_536
RUN_SLACK = 5.0  # seconds `run` waits past the deadline it was given


class _Loop:
    """One event loop per process, in a daemon thread, with its aiohttp session (kept-alive
    connections across batches) and its per-host semaphores. Rebuilt after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self.session: aiohttp.ClientSession | None = None
        self.in_flight = 0
        self.slots: dict[str, asyncio.Semaphore] = {}
        self.calls: set[asyncio.Task[Any]] = set()
        self._closing_at_exit = False

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self.loop is None or self._pid != os.getpid() or not self.loop.is_running():
                self._pid = os.getpid()
                self.loop = asyncio.new_event_loop()
                self.session, self.slots, self.calls = None, {}, set()
                started = threading.Event()
                loop = self.loop
                thread = threading.Thread(target=self._run, args=(loop, started), name="poll-loop", daemon=True)
                thread.start()
                started.wait()
                if not self._closing_at_exit:
                    self._closing_at_exit = True
                    atexit.register(self.close_at_exit)
            return self.loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        loop.run_forever()

    def client(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30, ttl_dns_cache=300)
            self.session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": http.USER_AGENT, "Accept": "application/json"},
                trust_env=False,  # a proxy from the environment must not see the tokens
                auto_decompress=True,
            )
        return self.session

    def slot(self, host: str) -> asyncio.Semaphore:
        if host not in self.slots:
            self.slots[host] = asyncio.Semaphore(self.in_flight or settings.POLL_CONCURRENCY)
        return self.slots[host]

    def close_at_exit(self) -> None:
        """Close the session's connections while the loop still runs (else aiohttp warns)."""
        loop = self.loop
        if loop is not None and loop.is_running() and self._pid == os.getpid():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=2)

    def cut_all(self) -> None:
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(lambda: [task.cancel() for task in list(self.calls)])


_state = _Loop()
http.on_interrupt(_state.cut_all)


def configure(*, in_flight: int) -> None:
    """The most requests this process sends at once to one upstream host (a worker's share of
    POLL_CONCURRENCY). Set before the first poll; default POLL_CONCURRENCY."""
    _state.in_flight = in_flight
    _state.slots = {}


def run(coroutine: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """Run `coroutine` on this process's poll loop and wait for it (from any thread but the loop's),
    at most `timeout` seconds (default: a little past one request's deadline), so a loop that never
    answers cannot hold the caller for ever."""
    wait = timeout if timeout is not None else settings.UPSTREAM_REQUEST_DEADLINE + RUN_SLACK
    future = asyncio.run_coroutine_threadsafe(coroutine, _state.get())
    try:
        return future.result(timeout=wait)
    except TimeoutError:
        future.cancel()  # not left running on the loop, holding its slot
        raise


class NotAsked(http.Interrupted):
    """A poll that found no free slot for its host before `turn`'s `until`: nothing was sent, so,
    like a shutdown's cut, it records nothing and comes back after its lease."""


class _Turn:
    """A task's claim on its host's slot. Held while it sends, given back while it sleeps between
    attempts, so a storm of Retry-After answers leaves the other polls free to send."""

    def __init__(self, slot: asyncio.Semaphore) -> None:
        self.slot, self.held = slot, False

    async def take(self, until: float | None = None) -> bool:
        """Hold the slot; False if `until` (a loop-clock time) came first."""
        if not self.held:
            if until is None or not self.slot.locked():
                await self.slot.acquire()  # at once, or for as long as it takes: no timer to arm
            else:
                try:
                    async with asyncio.timeout_at(until):
                        await self.slot.acquire()
                except TimeoutError:
                    return False
            self.held = True
        return True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.slot.release()

    async def rest(self, seconds: float, limit: float) -> bool:
        """Sleep `seconds` without the slot, then take it again before `limit`; False if it could not."""
        self.give_back()
        await _pause(seconds)
        return await self.take(until=limit)


_turns: contextvars.ContextVar[dict[str, _Turn] | None] = contextvars.ContextVar("http_async_turns", default=None)


_ORIGIN = re.compile(r"[^:/?#]+://[^/?#]*")  # scheme://netloc, as `urlsplit` cuts them


def _host(url: str) -> str:
    """The origin (scheme and host, either case) whose slots `url` takes: twice a poll, so a regex,
    not `urlsplit` (3 % of a poll's CPU in a profile)."""
    origin = _ORIGIN.match(url)
    if origin is None:  # not an absolute URL: the HTTP layer refuses it when sending
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}"
    return origin.group().lower()


@contextlib.asynccontextmanager
async def turn(url: str, *, until: float | None = None) -> AsyncIterator[_Turn]:
    """Wait for a slot on `url`'s host (at most until `until`, a time.monotonic() value: past it,
    `NotAsked`), then hold it for the body of the block; the requests inside use it. A poll starts
    its clock inside (`polling.outcome.ask_upstream_async`): the wait in this process's queue is
    neither the upstream's time nor its fault. `http.interrupt_all` cuts the wait too."""
    turns, host = _turns.get(), _host(url)
    if turns is not None and host in turns:
        yield turns[host]  # the caller's turn
        return
    held = _Turn(_state.slot(host))
    token = _turns.set({**(turns or {}), host: held})
    task = asyncio.current_task()
    assert task is not None
    _state.calls.add(task)
    try:
        if not await held.take(until):
            raise NotAsked("no free slot for this host before the batch's cut-off; nothing was sent")
        yield held
    except asyncio.CancelledError:
        if not http.stopping():
            raise
        task.uncancel()
        raise http.Interrupted("the worker is shutting down") from None
    finally:
        held.give_back()
        _state.calls.discard(task)
        _turns.reset(token)


async def request(
    method: str,
    url: str,
    *,
    token: Secret,
    parse_error: http.ErrorParser,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> tuple[int, Any]:
    """`http.request`, on the poll loop: the same answers and the same errors."""
    return (
        await request_sized(
            method, url, token=token, parse_error=parse_error, params=params, body=body, deadline=deadline
        )
    )[:2]


async def request_sized(
    method: str,
    url: str,
    *,
    token: Secret,
    parse_error: http.ErrorParser,
    params: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    deadline: float | None = None,
) -> tuple[int, Any, int]:
    """`http.request_sized`, on the poll loop. No `budget`: reserving a slot is a blocking Redis call
    that would stall the loop, and no poll on it has one yet. The request's deadline starts once it
    has its host's slot; the slot is held for each send and given back for the waits between."""
    async with turn(url) as held:
        await held.take()
        policy = http.Policy(method, url, token, None, deadline)
        while True:
            try:
                status, raw, retry_after = await _send(policy, params, body)
            except http._Retryable as failure:
                if not await held.rest(policy.after_failure(failure), policy.limit):
                    raise failure.error from None
                continue
            wait = policy.after_answer(status, retry_after)
            if wait is None or not await held.rest(wait, policy.limit):
                return policy.result(status, raw, parse_error)


async def _pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)
    if http.stopping():
        raise http.Interrupted("the worker is shutting down")


async def _send(
    policy: http.Policy, params: dict[str, Any] | None, body: dict[str, Any] | None
) -> tuple[int, bytes, float | None]:
    """One attempt under the deadline: the status, the body as far as it is read, Retry-After."""
    if http.stopping():
        raise http.Interrupted("the worker is shutting down")
    loop = asyncio.get_running_loop()
    remaining = policy.limit - loop.time()  # the loop's clock is time.monotonic()
    if remaining <= 0:
        raise TransientError("no time was left to ask the API", reason="timeout")
    timeout = aiohttp.ClientTimeout(
        sock_connect=min(settings.UPSTREAM_CONNECT_TIMEOUT, remaining),
        sock_read=min(settings.UPSTREAM_READ_TIMEOUT, remaining),
    )
    answer = _Answer()
    try:
        async with asyncio.timeout_at(policy.limit) as limit:
            return await _attempt(policy, params, body=body, timeout=timeout, limit=limit, answer=answer)
    except TimeoutError:  # the deadline (read timeouts are answered inside)
        if answer.status is None:
            raise TransientError("the API did not answer before the deadline", reason="timeout") from None
        if not 200 <= answer.status < 300:
            return answer.status, b"", answer.retry_after  # an error body cut: the status alone decides
        raise TransientError("the API answered too slowly", status=answer.status, reason="timeout") from None


class _Answer:
    status: int | None = None  # once the headers are in
    retry_after: float | None = None


async def _attempt(
    policy: http.Policy,
    params: dict[str, Any] | None,
    *,
    body: dict[str, Any] | None,
    timeout: aiohttp.ClientTimeout,
    limit: asyncio.Timeout,
    answer: _Answer,
) -> tuple[int, bytes, float | None]:
    """The request itself. The deadline arrives here as a cancellation, which `_send` turns into
    its error; what is caught here are aiohttp's own timeouts and failures."""
    try:
        async with _state.client().request(
            policy.method,
            policy.url,
            params=params,
            json=body,
            headers=policy.headers(),
            timeout=timeout,
            allow_redirects=False,
        ) as response:
            status = answer.status = response.status
            if status in http.RETRY_AFTER_STATUSES:
                answer.retry_after = http.retry_after_seconds(response.headers.get("Retry-After", ""))
            return status, await _body(response, limit), answer.retry_after
    except TimeoutError:
        if answer.status is None:  # a read timeout before the headers were in: worth one retry
            raise http._Retryable(TransientError("the API did not answer in time", reason="timeout")) from None
        raise TransientError(
            "the connection dropped or stalled while reading the answer", status=answer.status, reason="timeout"
        ) from None
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError):
        if answer.status is None:
            raise http._Retryable(TransientError("could not connect to the API", reason="connection")) from None
        raise TransientError(
            "the connection dropped or stalled while reading the answer", status=answer.status, reason="connection"
        ) from None
    except aiohttp.ClientError as error:
        raise TransientError(f"request failed ({type(error).__name__})", reason="connection") from None


async def _body(response: aiohttp.ClientResponse, limit: asyncio.Timeout) -> bytes:
    loop = asyncio.get_running_loop()
    status = response.status
    if 200 <= status < 300:
        _tighten(limit, loop.time() + settings.UPSTREAM_BODY_TIMEOUT)
        return await _read(response, max_bytes=settings.UPSTREAM_MAX_BODY_BYTES)
    # An error body is read only so far: enough for its message, never long enough to hold a retry.
    # Its own limit is a timeout inside the request's; if the request's comes first, `_send` answers
    # with the status alone all the same.
    try:
        async with asyncio.timeout(settings.UPSTREAM_ERROR_BODY_SECONDS):
            return await _read(response, max_bytes=http.ERROR_BODY_MAX_BYTES, truncate=True)
    except (TimeoutError, aiohttp.ClientError, SchemaError):
        response.close()  # the status alone decides; the connection is closed, not drained
        return b""


async def _read(response: aiohttp.ClientResponse, *, max_bytes: int, truncate: bool = False) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await response.content.read(READ_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            response.close()  # not read on: the connection goes
            if truncate:
                break
            raise SchemaError("the API sent an oversized answer", status=response.status)
    return b"".join(chunks)[:max_bytes]


def _tighten(limit: asyncio.Timeout, at: float) -> None:
    """Bring the deadline forward (never back): the body phase may have a shorter limit."""
    when = limit.when()
    if when is None or at < when:
        limit.reschedule(at)


async def close() -> None:
    """Close the session's connections (tests, a process that stops polling)."""
    session = _state.session
    _state.session = None
    if session is not None:
        with contextlib.suppress(Exception):
            await session.close()
