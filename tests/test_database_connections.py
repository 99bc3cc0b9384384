"""Pages served by the real WSGI handler (gunicorn's path: `request_started` and `request_finished`
close what is obsolete) keep their thread's database connection from one request to the next."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import DEFAULT_DB_ALIAS, connection, connections

pytestmark = pytest.mark.django_db(transaction=True)


def serve(path: str) -> str:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(),
        "wsgi.errors": BytesIO(),
    }
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None, /) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    response = WSGIHandler()(environ, start_response)
    b"".join(response)
    response.close()  # what the server does: `request_finished`
    return statuses[0]


def test_a_page_reuses_the_database_connection_of_the_previous_one(redis_clean):
    assert serve("/healthz").startswith("200")  # it reads the database
    first = connection.connection
    assert first is not None
    assert serve("/healthz").startswith("200")
    assert connection.connection is first


def test_a_connection_the_database_dropped_is_replaced_before_a_page_uses_it(redis_clean):
    if connection.vendor != "postgresql":
        pytest.skip("a SQLite file has no server to drop a connection (its backend's check is a no-op)")
    serve("/healthz")
    dropped = connection.connection
    with connections.create_connection(DEFAULT_DB_ALIAS).cursor() as other:  # as a database restart does
        other.execute("SELECT pg_terminate_backend(%s)", [dropped.info.backend_pid])
    assert serve("/healthz").startswith("200")
    assert connection.connection is not dropped and connection.is_usable()
