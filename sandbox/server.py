"""The sandbox's WSGI app (dispatch, latency, faults, stats, request log) and `SandboxServer`,
which serves it with Werkzeug's threaded server in a background thread, keeping connections alive
(HTTP/1.1, `keepalive.py`) as the real APIs do.

    server = SandboxServer(host="127.0.0.1", port=0, scenario="demo")
    server.start()      # returns once the port accepts connections
    server.url          # both APIs live under it; control endpoints under /_sandbox/
    server.stop()
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import ClosingIterator

from sandbox import chargebackstop, control, datafast
from sandbox.faults import respond
from sandbox.keepalive import KeepAliveHandler, LiveConnections
from sandbox.state import SandboxState
from sandbox.wire import Reply

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("sandbox")
APIS = (datafast, chargebackstop)  # each module has NAME, PREFIX, handle(state, request) and error(status)
READS = ("GET", "HEAD", "OPTIONS")


class SandboxApp:
    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        started = time.perf_counter()
        api = next((api for api in APIS if request.path.startswith(api.PREFIX)), None)
        if api is None:
            response = self._other(request)
            return _answer(response, environ, start_response, _once(lambda: _log(request, response, started)))
        self.state.started(api.NAME)
        try:
            response = self._api(api, request)
        except BaseException:
            self.state.finished(api.NAME)
            _log(request, None, started)
            raise

        def finished() -> None:
            self.state.finished(api.NAME)
            _log(request, response, started)

        return _answer(response, environ, start_response, _once(finished))

    def _api(self, api: ModuleType, request: Request) -> Response:
        plan = self.state.faults.take(request.method, request.path)
        pause = self.state.latency + plan.delay
        if pause > 0:
            time.sleep(pause)

        def handle() -> Reply:
            handler: Callable[[SandboxState, Request], Reply] = api.handle
            with self.state.locked():
                return handler(self.state, request)

        response = respond(plan.outcome, request, handle, api.error)
        if request.method not in READS and response.status_code < 300:
            self.state.save()  # a create or a change: kept across restarts when there is a state file
        return response

    def _other(self, request: Request) -> Response:
        if request.path == control.PREFIX.rstrip("/") or request.path.startswith(control.PREFIX):
            response = control.dispatch(self.state, request)
            if request.method not in READS and response.status_code < 400:
                self.state.save()
            return response
        return Response("Not found. The sandbox serves /api/ (DataFast), /v1/ (ChargebackStop) and /_sandbox/.\n", 404)


def _answer(
    response: Response, environ: WSGIEnvironment, start_response: StartResponse, finished: Callable[[], None]
) -> Iterable[bytes]:
    chunks = response(environ, start_response)
    callbacks = [finished] if not hasattr(chunks, "close") else [chunks.close, finished]
    return ClosingIterator(_finish_before_last_chunk(chunks, finished), callbacks)


def _finish_before_last_chunk(chunks: Iterable[bytes], finished: Callable[[], None]) -> Iterator[bytes]:
    """Yield the body, calling `finished` just before its last chunk goes out.

    A request stops counting as in flight there: the client cannot hold the whole answer before
    then, so a client that waits for one answer before its next request is never counted twice.
    (Werkzeug closes the iterable only after waiting for leftover request data: too late.)
    A trickled body stays in flight until its last byte.
    """
    previous: bytes | None = None
    for chunk in chunks:
        if previous is not None:
            yield previous
        previous = chunk
    finished()
    if previous is not None:
        yield previous


def _once(action: Callable[[], None]) -> Callable[[], None]:
    """`action` on the first call only: both the body's end and the server's close() call it."""
    done = threading.Lock()

    def run() -> None:
        if done.acquire(blocking=False):
            action()

    return run


def _log(request: Request, response: Response | None, started: float) -> None:
    # Method, path and outcome only: never the query string, headers or body, where credentials live.
    outcome = response.status_code if response is not None else "dropped"
    log.info("%s %s %s %.1fms", request.method, request.path, outcome, (time.perf_counter() - started) * 1000)


class SandboxServer:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        scenario: str | Mapping[str, Any] = "demo",
        *,
        state_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.state = SandboxState(scenario, state_file=state_file)
        self.app = SandboxApp(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._live = LiveConnections()

    @property
    def url(self) -> str:
        if self.port == 0:
            raise RuntimeError("the port is picked on start(): start the sandbox first")
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)  # noqa: S104 (mapping, not binding)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("the sandbox is already started")
        # Bind here, not in make_server: on a busy port Werkzeug prints and calls sys.exit(1), where
        # callers need an OSError. Listening starts now, so connections are accepted from here on.
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.create_server((self.host, self.port), family=family, backlog=128)
        try:
            self.port = listener.getsockname()[1]
            self._server = make_server(
                self.host, self.port, self.app, threaded=True, request_handler=KeepAliveHandler, fd=listener.fileno()
            )
            self._server.live_connections = self._live = LiveConnections()  # type: ignore[attr-defined]
        finally:
            listener.close()  # Werkzeug works on its own duplicate of the descriptor
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._live.shut_all()  # kept-alive connections end too: a stopped sandbox answers nothing
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server.server_close()
        self._server = self._thread = None
        self.state.save()  # changes made in-process (not over HTTP) are kept too

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
