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

from integrations_app.sandbox.wire import Reply

_PARAMS: dict[str, tuple[set[str], set[str]]] = {  # kind: (required, optional)
    "latency": ({"seconds"}, set()),
    "status": ({"status"}, {"retry_after", "body"}),
    "malformed": (set(), set()),
    "missing_field": ({"field"}, set()),
    "drop": (set(), set()),
    "trickle": ({"seconds"}, set()),
    "empty_data": (set(), set()),
}
KINDS = tuple(_PARAMS)
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
    if fault.kind == "drop":
        drop_connection(request)
    if fault.kind == "status":
        return _status_reply(params, error).to_response()
    if fault.kind == "malformed":
        return Reply(200, raw=MALFORMED_BODY).to_response()
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


def _check(rule: FaultRule) -> None:
    if rule.kind not in _PARAMS:
        raise ValueError(f"unknown fault kind {rule.kind!r}; known: {list(KINDS)}")
    if not isinstance(rule.path, str) or not rule.path.startswith("/"):
        raise ValueError("path must be a request path prefix starting with '/'")
    if rule.times is not None and (not isinstance(rule.times, int) or isinstance(rule.times, bool) or rule.times < 1):
        raise ValueError("times must be None (every request) or a whole number >= 1")
    required, optional = _PARAMS[rule.kind]
    given = set(rule.params)
    if required - given or given - required - optional:
        raise ValueError(
            f"{rule.kind!r} takes {sorted(required)} and optionally {sorted(optional)}, got {sorted(given)}"
        )
    p = rule.params
    if "seconds" in p and (not _is_number(p["seconds"]) or p["seconds"] < 0):
        raise ValueError("seconds must be a number >= 0")
    if "status" in p and not (isinstance(p["status"], int) and 100 <= p["status"] <= 599):
        raise ValueError("status must be an HTTP status code")
    if p.get("retry_after") is not None and not (isinstance(p["retry_after"], int) and p["retry_after"] >= 0):
        raise ValueError("retry_after must be whole seconds >= 0")
    if p.get("body") is not None and not isinstance(p["body"], str | dict):
        raise ValueError("body must be a str or a dict")
    if "field" in p and (not isinstance(p["field"], str) or not p["field"]):
        raise ValueError("field must be a dotted path such as 'data.0.stripe'")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
