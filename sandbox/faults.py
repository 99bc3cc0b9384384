"""Fault injection: rules that make matching API requests slow, fail, or answer badly.

A rule matches by path prefix (and optionally method) and is used `times` times (None: forever).
Taking a rule and counting it down happen under one lock, so `times=3` means exactly three
requests, however many arrive at once. `latency` rules add up and let the request go on (so a slow
*and* failing upstream can be built from two rules); of the other kinds the first match wins.

Kinds and their parameters:
- latency (seconds): wait, then answer normally.
- status (status, retry_after=None, body=None): answer with that status and the API's own error
  body (or `body`: a dict sent as JSON, a str sent as text), without running the real handler.
- malformed: 200 with a body that is not JSON.
- missing_field (field): delete a dotted path ("data.0.stripe", "count") from the normal answer.
- drop: close the connection without any answer.
- trickle (seconds): the normal answer, its body sent one byte at a time over `seconds`.
- empty_data: the normal answer with its list emptied (DataFast `data`, ChargebackStop `items`).
- stream (status, retry_after=None, interval=0.5, seconds=None): that status and its headers at
  once, then a body of one byte every `interval` for `seconds` (None: until the client goes away),
  as a hostile or broken proxy may send a 503 or 429.
- slow_headers (seconds, lines=None): the status line at once, then one header line every `seconds`;
  after `lines` lines (None: never) the rest of the normal answer.
- huge_listing (count, items, merchant_ids): a ChargebackStop listing that claims `count`
  integrations and sends `items` per page, each with `merchant_ids` distinct merchant IDs. On
  `/v1/organisations` and `/v1/merchants` the items are organisations or merchants instead.

Rules match any API path, the websites, organisations and merchants listings included; a rule for
`/api/v1/admin/websites/` (trailing slash) leaves the websites listing alone.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from werkzeug.wrappers import Request, Response

from sandbox.wire import Reply


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


KINDS: dict[str, tuple[set[str], set[str]]] = {  # kind: (required parameters, optional ones)
    "latency": ({"seconds"}, set()),
    "status": ({"status"}, {"retry_after", "body"}),
    "malformed": (set(), set()),
    "missing_field": ({"field"}, set()),
    "drop": (set(), set()),
    "trickle": ({"seconds"}, set()),
    "empty_data": (set(), set()),
    "stream": ({"status"}, {"retry_after", "interval", "seconds"}),
    "slow_headers": ({"seconds"}, {"lines"}),
    "huge_listing": ({"count", "items", "merchant_ids"}, set()),
}
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {  # parameter: (valid?, what it must be)
    "seconds": (lambda v: _number(v) and v >= 0, "a number >= 0"),
    "interval": (lambda v: _number(v) and v > 0, "a number > 0"),
    "status": (lambda v: _whole(v) and 100 <= v <= 599, "an HTTP status code"),
    # Whole seconds, or any header text (a hostile upstream's "Retry-After: ²" or an HTTP date).
    "retry_after": (lambda v: _whole(v) or (isinstance(v, str) and len(v) <= 100), "whole seconds >= 0 or a str"),
    "body": (lambda v: isinstance(v, str | dict), "a str or a dict"),
    "field": (lambda v: isinstance(v, str) and bool(v), "a dotted path such as 'data.0.stripe'"),
} | dict.fromkeys(("lines", "count", "items", "merchant_ids"), (_whole, "a whole number >= 0"))
MALFORMED_BODY = b'{"status": "success", "data": [{"stripe": {"connected": tru<html>502 Bad Gateway</html>'


@dataclass
class FaultRule:
    path: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    method: str | None = None
    times: int | None = None  # uses left; None = every matching request

    def matches(self, method: str, path: str) -> bool:
        return path.startswith(self.path) and (self.method is None or self.method == method.upper())

    def describe(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "method": self.method, "times": self.times, **self.params}


@dataclass(frozen=True)
class Plan:
    """What the faults decided for one request: extra delay, and at most one outcome fault."""

    delay: float = 0.0
    outcome: FaultRule | None = None


class FaultRules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(self, path: str, kind: str, *, times: int | None = None, method: str | None = None, **params: Any) -> None:
        rule = FaultRule(path=path, kind=kind, params=params, method=method.upper() if method else None, times=times)
        _check(rule)
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def take(self, method: str, path: str) -> Plan:
        delay = 0.0
        outcome: FaultRule | None = None
        with self._lock:
            for rule in list(self._rules):
                if not rule.matches(method, path):
                    continue
                if rule.kind == "latency":
                    delay += rule.params["seconds"]
                elif outcome is None:
                    outcome = FaultRule(rule.path, rule.kind, dict(rule.params), rule.method)
                else:
                    continue  # not used by this request, so not counted down
                if rule.times is not None:
                    rule.times -= 1
                    if rule.times == 0:
                        self._rules.remove(rule)
        return Plan(delay=delay, outcome=outcome)


def respond(
    fault: FaultRule | None, request: Request, handle: Callable[[], Reply], error: Callable[[int], Reply]
) -> Response:
    """The response to send: the handler's, or what the fault makes of it (or instead of it)."""
    if fault is None:
        return handle().to_response()
    params = fault.params
    instead = _instead_of_handler(fault, request, handle, error)
    if instead is not None:
        return instead
    reply = handle()
    if fault.kind == "missing_field":
        delete_path(reply.payload, params["field"])
    elif fault.kind == "empty_data" and isinstance(reply.payload, dict):
        for name in ("data", "items"):
            if isinstance(reply.payload.get(name), list):
                reply.payload[name] = []
    elif fault.kind == "trickle":
        return _trickle(reply, params["seconds"])
    return reply.to_response()


def _instead_of_handler(
    fault: FaultRule, request: Request, handle: Callable[[], Reply], error: Callable[[int], Reply]
) -> Response | None:
    """The faults that answer (or hang up) without the handler's normal reply; None for the others."""
    params = fault.params
    if fault.kind == "drop":
        drop_connection(request)
    if fault.kind == "slow_headers":
        _slow_headers(request, handle(), params["seconds"], params.get("lines"))
    if fault.kind == "status":
        return _status_reply(params, error).to_response()
    if fault.kind == "malformed":
        return Reply(200, raw=MALFORMED_BODY).to_response()
    if fault.kind == "stream":
        return _stream(_status_reply(params, error), params.get("interval", 0.5), params.get("seconds"))
    if fault.kind == "huge_listing":
        return _huge_listing(request, params).to_response()
    return None


def drop_connection(request: Request) -> NoReturn:
    """Close the socket with no answer. Werkzeug's dev server passes the socket in the environ and
    treats a ConnectionError from the app as a client that went away: nothing is logged or sent."""
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionResetError("sandbox fault: connection dropped")


def delete_path(payload: Any, dotted: str) -> None:
    """Delete `a.0.b` from nested dicts and lists; a path that is not there is left alone."""
    *parents, last = dotted.split(".")
    node = payload
    for part in parents:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


def _status_reply(params: dict[str, Any], error: Callable[[int], Reply]) -> Reply:
    reply = error(params["status"])
    body = params.get("body")
    if isinstance(body, dict):
        reply.payload = body
    elif isinstance(body, str):
        reply.raw, reply.content_type = body.encode(), "text/plain; charset=utf-8"
    if params.get("retry_after") is not None:
        reply.headers["Retry-After"] = str(params["retry_after"])
    return reply


def _trickle(reply: Reply, seconds: float) -> Response:
    body = reply.body()

    def one_byte_at_a_time() -> Iterator[bytes]:
        started = time.monotonic()
        for index in range(len(body)):
            # Aim each byte at its share of the window, so the total is `seconds` however
            # coarse the sleeps are.
            wait = started + seconds * (index + 1) / len(body) - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            yield body[index : index + 1]

    response = Response(
        one_byte_at_a_time(), status=reply.status, headers=reply.headers, content_type=reply.content_type
    )
    response.headers["Content-Length"] = str(len(body))
    return response


def _stream(reply: Reply, interval: float, seconds: float | None) -> Response:
    """The status and headers now, then one byte per `interval`: a body that never finishes (Werkzeug
    stops writing once the client has gone away)."""

    def forever() -> Iterator[bytes]:
        ends = None if seconds is None else time.monotonic() + seconds
        while ends is None or time.monotonic() < ends:
            yield b" "  # JSON whitespace: the body stays "valid so far" however long it goes on
            time.sleep(interval)

    response = Response(forever(), status=reply.status, headers=reply.headers, content_type=reply.content_type)
    response.headers["Content-Length"] = str(10**9)
    return response


def _slow_headers(request: Request, reply: Reply, seconds: float, lines: int | None) -> NoReturn:
    """Write the answer on the raw socket, one header line every `seconds`, then close it. A client
    that waits for the end of the headers with a per-read timeout longer than `seconds` never times
    out. Raises ConnectionResetError, as `drop` does, so Werkzeug writes nothing more."""
    connection = request.environ["werkzeug.socket"]
    body = reply.body()
    try:
        connection.sendall(f"HTTP/1.1 {reply.status} Sandbox\r\n".encode())
        sent = 0
        while lines is None or sent < lines:
            time.sleep(seconds)
            connection.sendall(f"X-Slow-{sent}: not yet\r\n".encode())
            sent += 1
        head = f"Content-Type: {reply.content_type}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        connection.sendall(head.encode() + body)
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client went away, as it should
    raise ConnectionResetError("sandbox fault: slow headers sent")


def _huge_listing(request: Request, params: dict[str, Any]) -> Reply:
    """A listing page built on the fly (nothing kept in the sandbox's memory): `items` integrations at
    this offset, each with `merchant_ids` distinct IDs, under a `count` the listing never reaches."""
    offset = int(request.args.get("offset", "0") or 0)
    numbers = range(offset, offset + params["items"])
    if request.path.startswith("/v1/organisations"):
        organisations = [{"id": f"org_huge_{n}", "name": f"Huge {n}", "mode": "LIVE"} for n in numbers]
        return Reply(200, {"items": organisations, "count": params["count"]})
    if request.path.startswith("/v1/merchants"):
        merchants = [
            {"id": f"mrch_huge_{n}", "organisation_id": "org_huge", "name": f"Huge {n}", "type": "GENERIC"}
            | {"external_id": None}
            for n in numbers
        ]
        return Reply(200, {"items": merchants, "count": params["count"]})
    items = [
        {
            "id": f"int_huge_{offset + index}",
            "organisation_id": "org_huge",
            "name": f"Huge {offset + index}",
            "type": "CUSTOM_ORDERS",
            "status": "ENABLED",
            "merchant_ids": [f"m{offset + index}_{number}" for number in range(params["merchant_ids"])],
        }
        for index in range(params["items"])
    ]
    return Reply(200, {"items": items, "count": params["count"]})


def _check(rule: FaultRule) -> None:
    if rule.kind not in KINDS:
        raise ValueError(f"unknown fault kind {rule.kind!r}; known: {list(KINDS)}")
    if not isinstance(rule.path, str) or not rule.path.startswith("/"):
        raise ValueError("path must be a request path prefix starting with '/'")
    if rule.times is not None and not (_whole(rule.times) and rule.times >= 1):
        raise ValueError("times must be None (every request) or a whole number >= 1")
    required, optional = KINDS[rule.kind]
    if required - set(rule.params) or set(rule.params) - required - optional:
        raise ValueError(
            f"{rule.kind!r} takes {sorted(required)} and optionally {sorted(optional)}, got {sorted(rule.params)}"
        )
    for name, value in rule.params.items():
        valid, meaning = CHECKS[name]
        if not (value is None and name in optional) and not valid(value):  # an optional one may be None
            raise ValueError(f"{name} must be {meaning}")
