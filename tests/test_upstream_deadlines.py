"""Hard wall-clock deadlines on upstream calls, against hostile answers from the sandbox: a 5xx or
429 whose body streams for ever, headers sent one line at a time, a 200 body that trickles. Each
call ends by its deadline with the right error, whatever the per-read timeouts would allow."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.urls import reverse

from integrations_app.chargebackstop.check import check_chargebackstop
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.datafast.check import check_datafast
from integrations_app.datafast.client import DataFastClient
from integrations_app.upstream import http, http_async
from integrations_app.upstream.errors import TransientError
from tests import demo, factories

DATAFAST = "/api/v1/admin/websites/"
LISTING = "/v1/integrations/"
DEADLINE = 2.0
SLACK = 1.0  # a deadline is met when the call returns within this much of it


def within(seconds: float, call: Callable[[], Any]) -> tuple[Any, float]:
    """Run `call` in a thread; return what it returned or raised, and how long it took. Fails, without
    waiting for it, if it is still running after `seconds` (the bug these tests catch is a hang)."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as error:  # handed back to the test
            outcome["value"] = error

    started = time.monotonic()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    elapsed = time.monotonic() - started
    assert not thread.is_alive(), f"still running after {seconds:.0f} s"
    return outcome["value"], elapsed


@pytest.fixture
def short(settings: Any) -> Any:
    """A short request deadline; per-read timeouts longer than the hostile server's pauses."""
    settings.UPSTREAM_REQUEST_DEADLINE = DEADLINE
    settings.UPSTREAM_READ_TIMEOUT = 15.0
    settings.UPSTREAM_BODY_TIMEOUT = 20.0
    return settings


@pytest.fixture(params=["requests", "aiohttp"])
def datafast(request: pytest.FixtureRequest) -> Callable[[], Any]:
    """One DataFast poll's request, through either client of the one HTTP module: `requests` (forms,
    commands, checks) or the poll loop's aiohttp (`http_async`, the workers' batches)."""
    client = DataFastClient(demo.DATAFAST_TOKEN)
    if request.param == "requests":
        return lambda: client.website_integrations(demo.ACME_STORE)
    return lambda: http_async.run(client.website_integrations_async(demo.ACME_STORE))


@pytest.mark.parametrize(("status", "reason"), [(503, "server_error"), (429, "rate_limited"), (500, "server_error")])
def test_an_error_whose_body_streams_for_ever_ends_by_the_deadline(sandbox, short, status, reason, datafast):
    sandbox.state.faults.add(DATAFAST, kind="stream", status=status, interval=0.2)
    error, elapsed = within(DEADLINE + 10, datafast)
    assert isinstance(error, TransientError), error
    assert (error.reason, error.status) == (reason, status)
    assert elapsed < DEADLINE + SLACK


def test_a_streaming_429_is_retried_by_us_after_a_bounded_read(sandbox, short, datafast):
    short.UPSTREAM_ERROR_BODY_SECONDS = 0.3
    sandbox.state.faults.add(DATAFAST, kind="stream", status=429, retry_after=0, interval=0.1, times=1)
    result, elapsed = within(DEADLINE + 10, datafast)
    assert result.currency == "USD", result
    assert sandbox.state.stats()["datafast"]["requests"] == 2
    assert elapsed < 1.5


def test_retry_after_is_honoured_only_while_the_deadline_allows(sandbox, short, datafast):
    short.UPSTREAM_RETRY_AFTER_MAX = 10
    sandbox.state.faults.add(DATAFAST, kind="status", status=503, retry_after=5, times=1)
    error, elapsed = within(DEADLINE + 10, datafast)
    assert isinstance(error, TransientError) and error.status == 503, error
    assert elapsed < 1.0, "waited for a retry that the deadline could not allow"
    assert sandbox.state.stats()["datafast"]["requests"] == 1


@pytest.mark.parametrize("header", ["²", "1e9", "-5", "nan", "  ", "Wed, 99 Foo 2026 25:00:00 GMT"])
def test_a_retry_after_that_is_not_a_number_or_a_date_is_ignored_not_a_crash(sandbox, short, datafast, header):
    """'²'.isdigit() is True but float('²') raises: a header must never escape as a ValueError
    (which would fail the whole batch and leave the website's error unrecorded)."""
    sandbox.state.faults.add(DATAFAST, kind="status", status=503, retry_after=header, times=1)
    result, _ = within(DEADLINE + 10, datafast)
    assert not isinstance(result, Exception), repr(result)
    assert sandbox.state.stats()["datafast"]["requests"] == 2


def test_headers_sent_one_line_at_a_time_end_by_the_deadline(sandbox, short, datafast):
    sandbox.state.faults.add(DATAFAST, kind="slow_headers", seconds=0.5)
    error, elapsed = within(DEADLINE + 10, datafast)
    assert isinstance(error, TransientError) and error.reason == "timeout", error
    assert error.status is None, "a status line before unfinished headers is no answer"
    assert elapsed < DEADLINE + SLACK


def test_a_200_body_that_trickles_ends_by_the_request_deadline(sandbox, short, datafast):
    sandbox.state.faults.add(DATAFAST, kind="trickle", seconds=60)
    error, elapsed = within(DEADLINE + 10, datafast)
    assert isinstance(error, TransientError) and (error.reason, error.status) == ("timeout", 200), error
    assert elapsed < DEADLINE + SLACK


def test_slow_headers_that_do_finish_in_time_are_read(sandbox, short, datafast):
    sandbox.state.faults.add(DATAFAST, kind="slow_headers", seconds=0.1, lines=3)
    result, _ = within(DEADLINE + 10, datafast)
    assert result.currency == "USD", result


def test_a_whole_listing_ends_by_the_callers_deadline(sandbox, settings):
    settings.UPSTREAM_REQUEST_DEADLINE = 30.0  # each request alone could take long: the listing's deadline cuts it
    sandbox.state.max_page_size = 2
    sandbox.state.faults.add(LISTING, kind="latency", seconds=0.4)
    sandbox.state.faults.add(LISTING, kind="slow_headers", seconds=0.5)
    client = ChargebackStopClient(demo.PARTNER_KEY)
    error, elapsed = within(15, lambda: client.list_integrations(page_size=2, deadline=time.monotonic() + DEADLINE))
    assert isinstance(error, TransientError) and error.reason == "timeout", error
    assert elapsed < DEADLINE + SLACK


def test_the_deadline_does_not_spoil_a_kept_alive_connection_for_the_next_call(sandbox, short, datafast):
    for _ in range(3):
        result, _ = within(DEADLINE + 10, datafast)
        assert result.currency == "USD", result
    time.sleep(DEADLINE + 0.5)  # every deadline of those calls has passed by now
    result, _ = within(DEADLINE + 10, datafast)
    assert result.currency == "USD", result


def test_interrupting_ends_calls_in_flight_at_once(sandbox, settings, datafast):
    settings.UPSTREAM_REQUEST_DEADLINE = 60.0
    sandbox.state.faults.add(DATAFAST, kind="slow_headers", seconds=0.5)
    threading.Timer(0.5, http.interrupt_all).start()
    try:
        error, elapsed = within(10, datafast)
        assert isinstance(error, http.Interrupted), error
        assert elapsed < 1.5
    finally:
        http.resume()


@pytest.mark.parametrize("upstream", ["datafast", "chargebackstop"])
def test_test_connection_has_a_short_deadline(sandbox, settings, upstream):
    settings.UPSTREAM_REQUEST_DEADLINE = 60.0
    settings.CONNECTION_CHECK_DEADLINE = DEADLINE
    sandbox.state.faults.add("/", kind="slow_headers", seconds=0.5)

    def check() -> Any:
        if upstream == "datafast":
            return check_datafast(demo.DATAFAST_TOKEN, demo.ACME_STORE)
        return check_chargebackstop(demo.PARTNER_KEY, level="partner")

    result, elapsed = within(DEADLINE + 10, check)
    assert result.ok is False and "did not answer" in result.summary, result
    assert elapsed < DEADLINE + SLACK


@pytest.mark.django_db
@pytest.mark.parametrize("upstream", ["site", "key"])
def test_the_test_connection_button_answers_by_the_check_deadline(sandbox, settings, client, upstream):
    """It once held a web thread for 100 s against headers sent one line at a time."""
    settings.UPSTREAM_REQUEST_DEADLINE = 60.0
    settings.CONNECTION_CHECK_DEADLINE = DEADLINE
    client.force_login(factories.staff())
    source = factories.site() if upstream == "site" else factories.key()
    sandbox.state.faults.add("/", kind="slow_headers", seconds=0.5)
    started = time.monotonic()
    response = client.post(reverse(f"{upstream}-test", args=[source.pk]))
    elapsed = time.monotonic() - started  # the check alone: not the page it redirects to, whose
    # first render in a process (templates compiled) is no upstream's time
    assert response.status_code == 302
    assert elapsed < DEADLINE + SLACK
    page = client.get(response["Location"])
    assert any("did not answer" in str(message) for message in page.context["messages"])


def test_a_call_on_the_poll_loop_that_never_ends_frees_its_caller_and_is_cancelled():
    """`http_async.run` waits a bounded time: a coroutine stuck on the loop cannot hold a worker."""
    ended = threading.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    error, elapsed = within(10, lambda: http_async.run(stuck(), timeout=0.3))
    assert isinstance(error, TimeoutError), error
    assert elapsed < 0.3 + SLACK
    assert ended.wait(2), "left running on the loop"
