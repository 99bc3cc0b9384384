"""Connection reuse against a server that keeps connections alive, as the real APIs do over HTTPS.
(The sandbox runs on Werkzeug's server, which closes every connection, so it cannot show this.)
A client that opened a connection per request would pay a TCP and TLS handshake on every poll."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from integrations_app.datafast.client import PROVIDERS, DataFastClient
from integrations_app.upstream.errors import CredentialError
from integrations_app.upstream.secret import Secret

WEBSITE = "65f0a1b2c3d4e5f6a7b8c9d0"
TOKEN = Secret("dft_keepalive_test_token")
SUCCESS = {
    "status": "success",
    "data": [{**{p: {"connected": True} for p in PROVIDERS}, "paddle": {"connected": False}, "currency": "EUR"}],
}
REJECTED = {"status": "error", "error": {"code": 401, "message": "Invalid API key"}}


class KeepAliveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), KeepAliveHandler)
        self.connections = 0
        self.answer: tuple[int, dict[str, Any]] = (200, SUCCESS)


class KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_GET(self) -> None:
        status, payload = self.server.answer
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[KeepAliveServer]:
    server = KeepAliveServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def base_url(server: KeepAliveServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_polls_from_one_thread_share_one_connection(server):
    client = DataFastClient(TOKEN, base_url=base_url(server))
    for _ in range(5):
        assert client.website_integrations(WEBSITE).currency == "EUR"
    assert server.connections == 1


def test_an_error_answer_read_to_its_end_keeps_the_connection(server):
    client = DataFastClient(TOKEN, base_url=base_url(server))
    server.answer = (401, REJECTED)
    for _ in range(3):
        with pytest.raises(CredentialError):
            client.website_integrations(WEBSITE)
    server.answer = (200, SUCCESS)
    assert client.website_integrations(WEBSITE).connected["stripe"] is True
    assert server.connections == 1
