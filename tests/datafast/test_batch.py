"""A worker's batch of websites (`datafast/batch.py`): asked at once on the poll loop (aiohttp) or
one after another (`requests`, POLL_ASYNC off), written by the writer thread, with the same rows
either way; on the loop, never more requests in flight than the process's share."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations_app.datafast.batch import UNRECORDED, load_sites, poll_sites, record_sites
from integrations_app.datafast.client import PROVIDERS
from integrations_app.datafast.poller import ask_site
from integrations_app.models import DataFastAccount, DataFastSite, Health, PollAttempt, StatusChange
from integrations_app.polling import writer as writer_module
from integrations_app.polling.dispatch import run_batch
from integrations_app.polling.outcome import PollOutcome
from integrations_app.upstream import http, http_async
from tests import demo, factories
from tests.polling import break_asking, break_recording

pytestmark = pytest.mark.django_db(transaction=True)  # the writer thread has its own connection
WEBSITES = [f"6650a1f2c4e8b90012ab340{digit}" for digit in "1234567"]  # the demo token's seven
LATENCY = 0.3


@pytest.fixture(params=["aiohttp", "requests"])
def client(request: pytest.FixtureRequest, settings: Any) -> str:
    settings.POLL_ASYNC = request.param == "aiohttp"
    return str(request.param)


@pytest.fixture
def in_flight() -> Any:
    """This process's share of the requests in flight, as a worker with three threads has it."""
    http_async.configure(in_flight=3)
    yield 3
    http_async.configure(in_flight=0)


def sites() -> list[int]:
    account = factories.account()
    return [factories.site(website_id=website, name=website[-4:], account=account).pk for website in WEBSITES]


def test_a_batch_records_every_website_and_its_second_poll_is_quiet(sandbox, client):
    pks = sites()
    first = poll_sites(pks)
    assert [outcome.ok for outcome in first.outcomes if outcome] == [True] * len(WEBSITES)
    second = poll_sites(pks)
    assert all(outcome and outcome.ok and not outcome.changes for outcome in second.outcomes)
    assert PollAttempt.objects.filter(ok=True).count() == 2 * len(WEBSITES)
    assert set(DataFastSite.objects.values_list("health", flat=True)) == {Health.OK}
    assert sandbox.state.stats()["datafast"]["requests"] == 2 * len(WEBSITES)
    # The quiet rows, written by hand (bulk.insert_many, bulk.save_many), read back as the ORM writes them.
    site = DataFastSite.objects.get(pk=pks[0])
    attempt = PollAttempt.objects.filter(site=site).latest("started_at")
    assert attempt.started_at == site.last_polled_at == site.last_success_at
    assert (attempt.ok, attempt.error_kind, attempt.message, attempt.requests, attempt.key_id) == (
        True,
        "",
        "",
        1,
        None,
    )
    assert site.last_polled_at is not None and site.next_poll_at > site.last_polled_at
    assert site.failing_since is None and site.currency == "USD"


def test_a_batch_does_not_load_its_accounts_listings(sandbox, client):
    """An account keeps the listing of every website behind its token (discovery's), a JSON list
    that grows with the token: polling never reads it, so loading the batch does not parse it."""
    pks = sites()
    DataFastAccount.objects.update(
        listed_websites=[{"id": f"{n:024x}", "name": f"shop {n}"} for n in range(2_000)],
        listed_website_ids=[f"{n:024x}" for n in range(2_000)],
        ignored_website_ids=[f"{n:024x}" for n in range(1_000)],
    )
    with CaptureQueriesContext(connection) as queries:
        result = poll_sites(pks)
    assert [outcome.ok for outcome in result.outcomes if outcome] == [True] * len(WEBSITES)
    account_reads = [query["sql"] for query in queries if "integrations_app_datafastaccount" in query["sql"]]
    assert account_reads, "the batch reads its accounts"
    listings = ("listed_websites", "listed_website_ids", "ignored_website_ids")
    assert not [sql for sql in account_reads if any(column in sql for column in listings)]


def test_a_steady_batch_reads_of_its_websites_only_what_asking_and_quiet_answers_need(sandbox, client):
    """A steady poll reads a few columns of its website and writes the rest: the whole row (with
    its dozen datetimes parsed) is loaded only for an answer that changes something."""
    pks = sites()
    poll_sites(pks)
    with CaptureQueriesContext(connection) as queries:
        result = poll_sites(pks)
    assert all(outcome and outcome.ok and not outcome.changes for outcome in result.outcomes)
    sqls = [query["sql"] for query in queries]
    site_reads = [sql for sql in sqls if sql.startswith("SELECT") and ' FROM "integrations_app_datafastsite" ' in sql]
    assert len(site_reads) == 1
    assert "last_error_message" not in site_reads[0] and "paddle_key_expires_at" not in site_reads[0]


def test_asking_and_writing_quiet_answers_read_no_column_the_batch_left_out(sandbox):
    """A column `load_sites` leaves out would be read by a query of its own, per website, when
    touched: asking and recording a quiet batch are its two writes and nothing else."""
    pks = sites()
    poll_sites(pks)
    loaded, providers = load_sites(pks)
    with CaptureQueriesContext(connection) as queries:
        items = [(site, ask_site(site), providers[site.pk]) for site in loaded]
        results = record_sites(items)
    assert all(isinstance(outcome, PollOutcome) and outcome.ok and not outcome.changes for outcome in results)
    assert [query["sql"].split()[:3] for query in queries] == [
        [f"{len(WEBSITES)}", "times:", "INSERT"],
        [f"{len(WEBSITES)}", "times:", "UPDATE"],
    ]


def test_the_poll_loop_asks_the_whole_batch_at_once_within_the_process_share(sandbox, settings, in_flight, redis_clean):
    settings.POLL_ASYNC = True
    pks = sites()
    sandbox.state.faults.add("/api/v1/admin/websites/", kind="latency", seconds=LATENCY)
    started = time.monotonic()
    result = run_batch("site", pks)
    elapsed = time.monotonic() - started
    assert all(outcome and outcome.ok for outcome in result.outcomes)
    assert sandbox.state.stats()["datafast"]["peak_in_flight"] == in_flight
    # Seven requests three at a time: three rounds of the latency, not seven.
    assert elapsed < 5 * LATENCY, f"{elapsed:.2f} s: the batch was not asked concurrently"


def test_a_changed_answer_in_a_batch_goes_through_the_change_recorder(sandbox, client):
    pks = sites()
    poll_sites(pks)
    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    result = poll_sites(pks)
    changed = [outcome for outcome in result.outcomes if outcome and outcome.changes]
    assert len(changed) == 1 and changed[0].alerts == 1
    assert StatusChange.objects.filter(notify=True, site__website_id=demo.BLUEBIRD_BOOKS).count() == 1


def test_a_website_whose_answer_cannot_be_recorded_fails_alone(sandbox, client, monkeypatch):
    """A bug in recording one website's answer: that website is a failed outcome with nothing
    written, the rest of the batch is recorded."""
    pks = sites()
    break_recording(monkeypatch, pks[0])
    sandbox.state.set_connected(WEBSITES[0], "stripe", False)  # not quiet: recorded by record_site
    result = poll_sites(pks)
    failed = [outcome for outcome in result.outcomes if outcome and not outcome.ok]
    assert [(outcome.error_kind, outcome.changes) for outcome in failed] == [(UNRECORDED, [])]
    assert not PollAttempt.objects.filter(site_id=pks[0]).exists()
    assert PollAttempt.objects.filter(ok=True).count() == len(WEBSITES) - 1


def test_a_bug_while_asking_about_one_website_fails_it_alone(sandbox, client, monkeypatch, caplog):
    """Asking (the client, on the loop or through `requests`) raises something no upstream error
    is, for one website: that website is a failed outcome with nothing written, the rest of the
    batch is asked and recorded, and the task does not fail."""
    pks = sites()
    break_asking(monkeypatch, pks[3])
    result = poll_sites(pks)
    failed = [outcome for outcome in result.outcomes if outcome and not outcome.ok]
    assert [(outcome.error_kind, outcome.changes) for outcome in failed] == [(UNRECORDED, [])]
    assert not PollAttempt.objects.filter(site_id=pks[3]).exists()
    assert PollAttempt.objects.filter(ok=True).count() == len(WEBSITES) - 1
    assert f"poll of site {pks[3]} could not be recorded: RecordingBug" in caplog.text


def test_a_batch_whose_last_website_fails_alone_is_written_at_once(sandbox, client, monkeypatch):
    """The writer waits its window for more work unless a job is urgent, and the batch's last answer
    is handed in urgent. When the last website fails alone instead, the batch still has its rows
    written at once, not a window later (a long window here makes the difference plain)."""
    monkeypatch.setattr(writer_module, "WINDOW", 5.0)
    pks = sites()
    break_asking(monkeypatch, pks[-1], after=0.5)  # on the loop, after every other answer
    started = time.monotonic()
    result = poll_sites(pks)
    assert time.monotonic() - started < 3, "the writer waited out its window"
    assert sum(not outcome.ok for outcome in result.outcomes if outcome) == 1
    assert PollAttempt.objects.count() == len(WEBSITES) - 1


@pytest.mark.parametrize(
    ("expiry", "recorded"),
    [("0001-01-03T00:00:00.000Z", "schema"), ("9999-12-31T23:59:59Z", "")],
)
def test_a_paddle_expiry_at_either_end_of_the_calendar_is_recorded(sandbox, client, expiry, recorded):
    """Year 1 is refused by the client, a poll error (never a disconnect); the end of year 9999 is
    a date like any other. Either way the website is recorded, and the batch with it."""
    pks = sites()
    entry: dict[str, object] = {provider: {"connected": True} for provider in PROVIDERS}
    entry["paddle"] = {"connected": True, "keyExpiresAt": expiry}
    hostile = {"status": "success", "data": [{**entry, "currency": "USD"}]}
    sandbox.state.faults.add(f"/api/v1/admin/websites/{WEBSITES[0]}/", kind="status", status=200, body=hostile)
    result = poll_sites(pks)
    assert all(outcome is not None for outcome in result.outcomes)
    attempt = PollAttempt.objects.get(site_id=pks[0])
    assert (attempt.ok, attempt.error_kind) == (not recorded, recorded)
    assert PollAttempt.objects.filter(ok=True).count() == len(WEBSITES) - bool(recorded)
    assert not DataFastSite.objects.get(pk=pks[0]).has_disconnect


def test_interrupting_a_batch_on_the_loop_records_nothing_for_the_websites_cut(sandbox, settings, in_flight):
    settings.POLL_ASYNC = True
    settings.UPSTREAM_REQUEST_DEADLINE = 60.0
    pks = sites()
    sandbox.state.faults.add("/api/v1/admin/websites/", kind="slow_headers", seconds=0.5)
    threading.Timer(0.5, http.interrupt_all).start()
    try:
        started = time.monotonic()
        result = poll_sites(pks)
        assert time.monotonic() - started < 2
    finally:
        http.resume()
    assert result.interrupted == len(WEBSITES)
    assert not PollAttempt.objects.exists()


@pytest.fixture
def one_slot() -> Any:
    """One request in flight per host: every website of the batch queues behind the others."""
    http_async.configure(in_flight=1)
    yield 1
    http_async.configure(in_flight=0)


def test_a_website_queued_for_a_slot_gets_its_whole_deadline_after_it(sandbox, settings, one_slot, redis_clean):
    """Seven answers of LATENCY one at a time outlast a deadline: the queue is not the upstream's."""
    settings.POLL_ASYNC = True
    settings.UPSTREAM_REQUEST_DEADLINE = settings.POLL_DEADLINE_SECONDS = 1.0
    assert len(WEBSITES) * LATENCY > 2 * settings.UPSTREAM_REQUEST_DEADLINE
    pks = sites()
    sandbox.state.faults.add("/api/v1/admin/websites/", kind="latency", seconds=LATENCY)
    started = time.monotonic()
    result = run_batch("site", pks)
    assert time.monotonic() - started >= len(WEBSITES) * LATENCY  # asked one at a time
    assert [outcome and outcome.ok for outcome in result.outcomes] == [True] * len(WEBSITES)
    assert not PollAttempt.objects.filter(ok=False).exists()
    # Each attempt's duration is its own answer's, not the wait for its turn.
    assert max(PollAttempt.objects.values_list("duration_ms", flat=True)) < 1000 * 3 * LATENCY


def test_a_website_told_to_retry_later_does_not_hold_the_slot_while_it_waits(sandbox, settings, one_slot, redis_clean):
    settings.POLL_ASYNC = True
    pks = sites()
    sandbox.state.faults.add(
        f"/api/v1/admin/websites/{WEBSITES[0]}/", kind="status", status=503, retry_after=2, times=1
    )
    started = timezone.now()
    result = run_batch("site", pks)
    assert [outcome and outcome.ok for outcome in result.outcomes] == [True] * len(WEBSITES)
    others = PollAttempt.objects.exclude(site__website_id=WEBSITES[0])
    # The others were answered while the first slept on its Retry-After, not after it.
    ended = max(attempt.started_at + timedelta(milliseconds=attempt.duration_ms) for attempt in others)
    assert ended - started < timedelta(seconds=1)


def test_a_website_with_no_slot_before_the_cut_off_is_not_asked_and_records_nothing(sandbox, settings, one_slot):
    settings.POLL_ASYNC = True
    settings.POLL_QUEUE_SECONDS = 0.5
    pks = sites()
    sandbox.state.faults.add("/api/v1/admin/websites/", kind="latency", seconds=LATENCY)
    result = poll_sites(pks)
    asked = [outcome for outcome in result.outcomes if outcome]
    assert 1 <= len(asked) < len(WEBSITES) and all(outcome.ok for outcome in asked)
    assert result.interrupted == len(WEBSITES) - len(asked)
    assert PollAttempt.objects.count() == len(asked) == sandbox.state.stats()["datafast"]["requests"]
