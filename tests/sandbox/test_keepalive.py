"""The sandbox keeps connections alive (HTTP/1.1), as the real HTTPS APIs do, and still hangs up
where a fault says so; a stopped sandbox answers nothing, on old connections either."""

from __future__ import annotations

import http.client
import json
import logging
import time

import pytest

from sandbox.keepalive import KeepAliveHandler
from sandbox.server import SandboxServer
from tests import demo

DATAFAST = f"/api/v1/admin/websites/{demo.ACME_STORE}/integrations"
AUTH = {"Authorization": f"Bearer {demo.DATAFAST_TOKEN.reveal()}"}


def connect(server: SandboxServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)


def get(connection: http.client.HTTPConnection, path: str = DATAFAST) -> http.client.HTTPResponse:
    connection.request("GET", path, headers=AUTH)
    response = connection.getresponse()
    response.read()
    return response


def local_port(connection: http.client.HTTPConnection) -> int:
    assert connection.sock is not None
    port: int = connection.sock.getsockname()[1]
    return port


def test_several_requests_share_one_connection(sandbox):
    connection = connect(sandbox)
    first = get(connection)
    port = local_port(connection)
    for _ in range(3):
        response = get(connection)
        assert response.status == 200
        assert not response.will_close
        assert local_port(connection) == port  # the same socket: never reconnected
    assert first.status == 200 and first.getheader("Connection") is None


def test_a_request_body_the_api_does_not_read_does_not_spoil_the_next_request(sandbox):
    connection = connect(sandbox)
    connection.request("POST", "/api/v1/unknown", body=json.dumps({"x": "y" * 5000}), headers=AUTH)
    refused = connection.getresponse()
    refused.read()
    assert refused.status == 404
    port = local_port(connection)
    assert get(connection).status == 200
    assert local_port(connection) == port


def test_an_error_answer_keeps_the_connection(sandbox):
    sandbox.state.faults.add("/api/", "status", status=503, times=1)
    connection = connect(sandbox)
    assert get(connection).status == 503
    port = local_port(connection)
    assert get(connection).status == 200
    assert local_port(connection) == port


def test_a_trickled_answer_arrives_whole_and_keeps_the_connection(sandbox):
    sandbox.state.faults.add("/api/", "trickle", seconds=0.2, times=1)
    connection = connect(sandbox)
    connection.request("GET", DATAFAST, headers=AUTH)
    response = connection.getresponse()
    assert json.loads(response.read())["status"] == "success"
    port = local_port(connection)
    assert get(connection).status == 200
    assert local_port(connection) == port


def test_a_drop_fault_still_hangs_up(sandbox):
    sandbox.state.faults.add("/api/", "drop", times=1)
    connection = connect(sandbox)
    connection.request("GET", DATAFAST, headers=AUTH)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        connection.getresponse()


def test_a_client_that_asks_to_close_gets_connection_close(sandbox):
    connection = connect(sandbox)
    connection.request("GET", DATAFAST, headers={**AUTH, "Connection": "close"})
    response = connection.getresponse()
    response.read()
    assert response.getheader("Connection") == "close"
    assert response.will_close


def test_a_stopped_sandbox_closes_its_kept_alive_connections():
    server = SandboxServer(scenario="demo")
    server.start()
    connection = connect(server)
    assert get(connection).status == 200
    server.stop()
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(connection)


def test_an_idle_connection_is_closed_without_an_error_in_the_log(sandbox, monkeypatch, caplog):
    """Closing a kept-alive connection after its idle time is what real servers do, not an error:
    `make run` printed "Request timed out" for every one, once a minute."""
    monkeypatch.setattr(KeepAliveHandler, "timeout", 0.3)
    connection = connect(sandbox)
    assert get(connection).status == 200
    assert connection.sock is not None
    connection.sock.settimeout(5)
    with caplog.at_level(logging.DEBUG):
        assert connection.sock.recv(1) == b""  # the sandbox hung up once idle
        time.sleep(0.1)  # its handler logs as it ends
    assert "timed out" not in caplog.text
