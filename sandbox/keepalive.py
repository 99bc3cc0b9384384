"""A Werkzeug request handler that keeps connections alive (HTTP/1.1), as the real HTTPS APIs do.

Werkzeug's own handler ends every answer with `Connection: close` and then drains whatever the
socket still holds, which on a kept-alive connection would swallow the client's next request. This
one runs the WSGI app the same way (the same environ, `werkzeug.socket` included, so the faults that
write on the raw socket or hang up still work), bounds the request body by its `Content-Length`
and reads what the app left of it, so the next request starts clean, and keeps the connection
unless the client asked to close it, the app hung up (`drop`, `slow_headers`) or something failed.

A connection idle for `IDLE_SECONDS` is closed, as real servers do; `LiveConnections` lets the
server close every open one when it stops, so a stopped sandbox refuses, as before.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

IDLE_SECONDS = 60.0
NO_BODY_STATUSES = frozenset({204, 304})
DROPPED = (ConnectionError, socket.timeout, TimeoutError)


class LiveConnections:
    """The sockets of open connections, so `stop()` can shut them (a thread blocked reading the
    next request line wakes and ends)."""

    def __init__(self) -> None:
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def discard(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def shut_all(self) -> None:
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_SECONDS  # socketserver sets it on the connection: an idle one ends here

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without NODELAY, Nagle's algorithm and the
        # client's delayed ACK would hold the body back ~40 ms on a kept-alive connection.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        live: LiveConnections | None = getattr(self.server, "live_connections", None)
        if live is not None:
            live.add(self.connection)

    def finish(self) -> None:
        live: LiveConnections | None = getattr(self.server, "live_connections", None)
        if live is not None:
            live.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the app logs one safer line per request

    def log_error(self, format: str, *args: Any) -> None:
        if format.startswith("Request timed out"):
            # A connection idle for IDLE_SECONDS (or a client stalled inside its request line or
            # headers as long), closed as real servers close one: not the sandbox's error.
            return
        super().log_error(format, *args)

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length", "0").strip() or "0"
        if "Transfer-Encoding" in self.headers or not length.isdigit():
            # Rare request shapes (chunked uploads, a bad length): Werkzeug's own way, which closes.
            super().run_wsgi()
            self.close_connection = True
            return
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.environ = self.make_environ()
        body = LimitedStream(self.rfile, int(length))  # type: ignore[arg-type]
        environ["wsgi.input"] = body
        environ["wsgi.input_terminated"] = True
        answer = _Answer(self, head=environ["REQUEST_METHOD"] == "HEAD")
        try:
            answer.run(self.server.app, environ)
            body.exhaust()  # what the app did not read of the request, so the next one starts clean
        except DROPPED:
            self.close_connection = True  # the client went away, or a fault hung up on purpose
        except Exception as error:  # a server answers 500 and goes on serving
            self.close_connection = True
            if not answer.started:
                with contextlib.suppress(Exception):
                    _Answer(self, head=False).run(InternalServerError(), environ)
            self.server.log("error", f"Error on request: {error!r}")


class _Answer:
    """Writes one WSGI answer: Content-Length when the app gave one, chunked otherwise."""

    def __init__(self, handler: KeepAliveHandler, *, head: bool) -> None:
        self.handler = handler
        self.head = head
        self.status = ""
        self.headers: list[tuple[str, str]] = []
        self.started = False
        self.chunked = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.status, self.headers = status, headers
        return self.write

    def _send_head(self) -> None:
        self.started = True
        code, _, reason = self.status.partition(" ")
        handler = self.handler
        handler.send_response(int(code), reason)
        names = set()
        for name, value in self.headers:
            handler.send_header(name, value)
            names.add(name.lower())
        if "content-length" not in names and not self.head and int(code) not in NO_BODY_STATUSES:
            self.chunked = True
            handler.send_header("Transfer-Encoding", "chunked")
        # send_header has taken the app's own `Connection: close`; the client's is in close_connection.
        if handler.close_connection and "connection" not in names:
            handler.send_header("Connection", "close")
        handler.end_headers()

    def write(self, data: bytes) -> None:
        if not self.started:
            self._send_head()
        if not data or self.head:
            return
        wfile = self.handler.wfile
        if self.chunked:
            wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        else:
            wfile.write(data)

    def run(self, app: Any, environ: WSGIEnvironment) -> None:
        chunks: Iterable[bytes] = app(environ, self.start_response)
        try:
            for data in chunks:
                self.write(data)
            if not self.started:
                self._send_head()
            if self.chunked:
                self.handler.wfile.write(b"0\r\n\r\n")
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        self.handler.wfile.flush()
