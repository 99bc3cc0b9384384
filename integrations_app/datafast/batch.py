"""Poll a batch of DataFast websites in a worker: the same requests and the same rows as
`poller.poll_site`, read and written in a few statements for the whole batch.

- Read: what asking and the quiet check need of the websites (`QUIET_READS`), their accounts
  (each shared account loaded once) and their provider rows, three queries for the batch instead
  of two per website; the whole rows of the few answers that change something when they are
  recorded, two more.
- Ask: every website of the batch at once on the process's poll loop (`upstream/http_async.py`:
  asyncio and aiohttp under the one HTTP policy), whose per-host semaphore bounds the requests in
  flight; with POLL_ASYNC off, one after another on this thread through `requests`.
- Write: each answer goes to the process's writer (`polling/writer.py`), which writes what every
  polling thread handed in over a few milliseconds in one transaction. An answer that changes
  nothing but the poll times (the website answered as it did last time, all providers as they
  were, nothing flapping, healthy, not a first observation) is *quiet*: its attempt goes into one
  INSERT and its website into one UPDATE statement for all of them. Everything else (an error, a
  new answer, any transition) goes through `poller.record_site`, the one path that records
  changes, through `alerts/changes.record`. An unexpected error there spoils only its own
  website (its savepoint): logged, counted as failed, and left to its lease; the batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone

from integrations_app.datafast.client import WebsiteIntegrations
from integrations_app.datafast.models import DataFastAccount, DataFastSite
from integrations_app.datafast.poller import (
    PADDLE_FIELDS,
    ask_site,
    ask_site_async,
    paddle_expiry_state,
    record_site,
)
from integrations_app.models import Health, PollAttempt, ProviderState
from integrations_app.polling.bulk import insert_many, load_many, read_many, save_many
from integrations_app.polling.outcome import SOURCE_FIELDS, Asked, PollOutcome, polled_since
from integrations_app.polling.schedule import next_poll_time
from integrations_app.polling.snapshots import digest
from integrations_app.polling.writer import writer
from integrations_app.problems import is_disconnect
from integrations_app.upstream import http, http_async

logger = logging.getLogger(__name__)
UNRECORDED = "unrecorded"  # an outcome's error kind: recording the answer failed (a bug), nothing written
ATTEMPT_FIELDS = ["site", "started_at", "duration_ms", "ok", "error_kind", "message", "requests"]
QUIET_FIELDS = [*SOURCE_FIELDS, "has_disconnect", *PADDLE_FIELDS, "problem_rank", "problem_recheck_at"]


@dataclass(frozen=True)
class BatchResult:
    outcomes: list[PollOutcome | None]  # one per website asked about, None when skipped
    interrupted: int = 0  # websites not asked about: the worker is stopping, or no slot came in time


class Provider(NamedTuple):
    """What the quiet check reads of a provider row: a tuple, not a model instance. Building six
    ProviderStates a website (their datetimes parsed) was a fifth of a steady poll's CPU; the
    few answers that change something load the rows themselves (`record_sites`)."""

    provider: str
    connected: bool
    alert_open: bool
    flapping_since: datetime | None


Providers = dict[int, list[Provider]]  # by website pk

# What asking and a quiet answer read of a website; the rest of its row a quiet answer only writes
# (`_write_quiet`). Loading the whole row (32 columns, 12 datetimes parsed) was most of a batch's
# reading time; the few answers that change something load their whole rows when they are
# recorded (`_whole_rows`), so nothing reads a column left out here (each would cost a query).
QUIET_READS = [
    "name",
    "website_id",
    "account",
    "enabled",
    "poll_interval_seconds",
    "last_polled_at",
    "last_success_at",
    "health",
    "paddle_expiry_state",
    "snapshot_digest",
    "problem_rank",  # `derive_problem` compares the problem it derives with the one stored
    "problem_recheck_at",
]

# Every column of an account but its listings from discovery (JSON lists of every website behind its
# token, parsed on load): a poll never reads them, and a batch loads up to a hundred accounts.
ACCOUNT_READS = [
    field.name
    for field in DataFastAccount._meta.concrete_fields
    if field.name not in {"listed_websites", "listed_website_ids", "ignored_website_ids"}
]


def load_sites(site_ids: Sequence[int]) -> tuple[list[DataFastSite], Providers]:
    """The websites of `site_ids` (those that still exist, in that order), their QUIET_READS only,
    with their accounts, and their provider rows: three queries."""
    sites = load_many(DataFastSite, QUIET_READS, site_ids)
    accounts = load_many(DataFastAccount, ACCOUNT_READS, list({site.account_id for site in sites.values()}))
    for site in sites.values():
        site.account = accounts[site.account_id]
    providers: Providers = {pk: [] for pk in sites}
    for site_id, *fields in read_many(ProviderState, ["site", *Provider._fields], key="site", values=list(sites)):
        providers[site_id].append(Provider._make(fields))
    return [sites[pk] for pk in site_ids if pk in sites], providers


def poll_sites(site_ids: Sequence[int], *, dispatched_at: datetime | None = None) -> BatchResult:
    """Poll the batch; the rows are written by the writer as the answers come. On the poll loop,
    every website of the batch at once (the loop's semaphore bounds the requests in flight), or,
    with POLL_ASYNC off, one after another on this thread."""
    sites, providers = load_sites(site_ids)
    skipped: list[PollOutcome | None] = [None] * (len(site_ids) - len(sites))  # deleted since dispatch
    due = [site for site in sites if not polled_since(site, dispatched_at)]
    skipped += [None] * (len(sites) - len(due))
    if settings.POLL_ASYNC:
        # The last website to get a slot still has its whole deadline after the queue's cut-off.
        queue_until = time.monotonic() + settings.POLL_QUEUE_SECONDS
        bound = settings.POLL_QUEUE_SECONDS + settings.POLL_DEADLINE_SECONDS + http_async.RUN_SLACK
        pending, interrupted = http_async.run(_ask_all(due, providers, queue_until), timeout=bound)
    else:
        pending, interrupted = _ask_each(due, providers)
    return BatchResult([*skipped, *(future.result() for future in pending)], interrupted)


def _ask_each(sites: Sequence[DataFastSite], providers: Providers) -> tuple[list[Future[PollOutcome]], int]:
    pending: list[Future[PollOutcome]] = []
    for index, site in enumerate(sites):
        try:
            asked = ask_site(site)
        except http.Interrupted:
            _write_now()
            return pending, len(sites) - index  # nothing recorded for these: their lease brings them back
        except Exception as error:
            pending.append(_failed_alone(site, error))
            if index == len(sites) - 1:
                _write_now()
            continue
        pending.append(writer.submit(record_sites, (site, asked, providers[site.pk]), urgent=index == len(sites) - 1))
    return pending, 0


async def _ask_all(
    sites: Sequence[DataFastSite], providers: Providers, queue_until: float
) -> tuple[list[Future[PollOutcome]], int]:
    pending: list[Future[PollOutcome]] = []
    left = len(sites)
    urgent_sent = False

    async def ask(site: DataFastSite) -> None:
        nonlocal left, urgent_sent
        try:
            asked = await ask_site_async(site, queue_until=queue_until)
        except http.Interrupted:
            raise
        except Exception as error:
            left -= 1
            pending.append(_failed_alone(site, error))
            return
        left -= 1
        urgent_sent = left == 0
        pending.append(writer.submit(record_sites, (site, asked, providers[site.pk]), urgent=urgent_sent))

    results = await asyncio.gather(*(ask(site) for site in sites), return_exceptions=True)
    if not urgent_sent:  # the last website was cut, found no slot or failed alone
        _write_now()
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, http.Interrupted):
            raise result
    return pending, sum(isinstance(result, http.Interrupted) for result in results)


Item = tuple[DataFastSite, Asked[WebsiteIntegrations], list[Provider]]


def record_sites(items: Sequence[Item]) -> list[object]:
    """The writer's handler, inside its transaction: quiet answers in bulk, the others one by one
    through `record_site` (each in a savepoint: an error there spoils only its own website)."""
    results: list[object] = [None] * len(items)
    quiet: list[tuple[int, Item]] = []
    loud: list[tuple[int, Item]] = []
    for position, item in enumerate(items):
        site, asked, providers = item
        if asked.answer is not None and _quiet(site, providers, asked.answer, asked.started):
            quiet.append((position, item))
        else:
            loud.append((position, item))
    whole = _whole_rows([(site, asked) for _, (site, asked, _) in loud])
    for position, (site, asked, _) in loud:
        if site.pk not in whole:
            continue  # deleted since the batch was loaded: skipped, as `load_sites` skips it
        try:
            with transaction.atomic():
                results[position] = record_site(whole[site.pk], asked)
        except DatabaseError:
            raise  # the whole transaction is lost: every poll of it retries
        except Exception as error:
            # A bug tripped by this website's answer: its savepoint rolled back, so nothing is
            # recorded for it (not a disconnect, not a poll error) and its lease brings it back.
            # The rest of the batch is recorded and its alerts queued as usual.
            results[position] = _unrecorded(site, error)
    _write_quiet([item for _, item in quiet])
    for position, (site, _, _) in quiet:
        results[position] = PollOutcome(str(site), ok=True)
    return results


def _whole_rows(loud: Sequence[tuple[DataFastSite, Asked[WebsiteIntegrations]]]) -> dict[int, DataFastSite]:
    """The whole rows of the websites `record_site` records (it reads and writes every column),
    with their accounts, and the provider rows of those answered as models (it moves them): two
    queries for all of them, inside the writer's transaction."""
    if not loud:
        return {}
    rows = DataFastSite.objects.in_bulk([site.pk for site, _ in loud])
    answered = []
    for site, asked in loud:
        if (row := rows.get(site.pk)) is not None:
            row.account = site.account
            if asked.answer is not None:
                answered.append(row)
    prefetch_related_objects(answered, "providers")
    return rows


def _write_now() -> None:
    """Have the writer write what this batch handed in now, not after its window: the batch's last
    website handed in nothing urgent (it was cut, found no slot, or failed alone)."""
    writer.submit(_nothing, None, urgent=True)


def _nothing(items: Sequence[None]) -> list[None]:
    return [None] * len(items)


def _failed_alone(site: DataFastSite, error: Exception) -> Future[PollOutcome]:
    """A bug tripped while asking about this website (the client raises only upstream errors for
    whatever the upstream sends): nothing is recorded for it and its lease brings it back; the
    rest of the batch is asked and recorded as usual."""
    failed: Future[PollOutcome] = Future()
    failed.set_result(_unrecorded(site, error))
    return failed


def _unrecorded(site: DataFastSite, error: Exception) -> PollOutcome:
    # The type and where it was raised, not the message nor the frames' values: either may hold
    # what the upstream sent or a decrypted secret.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
    logger.error("poll of site %s could not be recorded: %s%s", site.pk, type(error).__name__, where)
    return PollOutcome(str(site), ok=False, error_kind=UNRECORDED)


def _quiet(site: DataFastSite, providers: list[Provider], result: WebsiteIntegrations, now: datetime) -> bool:
    """Whether recording this answer changes nothing but the poll times (see the module's doc)."""
    if site.last_success_at is None or site.health != Health.OK:
        return False
    states = {state.provider: state for state in providers}
    for provider, connected in result.connected.items():
        state = states.get(provider)
        if state is None or state.connected != connected or state.flapping_since is not None:
            return False
    return paddle_expiry_state(result, now) == site.paddle_expiry_state and (
        digest(result.as_snapshot()) == site.snapshot_digest
    )


def _write_quiet(items: Sequence[Item]) -> None:
    """What `record_site` writes for a quiet answer, as one INSERT and one UPDATE statement."""
    if not items:
        return
    now = timezone.now()
    attempts = []
    for site, asked, providers in items:
        result, started = asked.answer, asked.started
        assert result is not None
        attempts.append((site.pk, started, asked.duration_ms, True, "", "", 1))
        site.last_polled_at = site.last_success_at = started
        site.next_poll_at = next_poll_time(started, site.interval)
        site.stale_after = started + 2 * site.interval
        site.failing_since = None
        site.last_error_kind = site.last_error_message = ""
        site.last_error_status = None
        site.currency = result.currency
        site.paddle_key_expires_at = result.paddle_key_expires_at
        site.has_disconnect = any(is_disconnect(state) for state in providers)
        site.derive_problem(now)
    insert_many(PollAttempt, ATTEMPT_FIELDS, attempts)
    save_many([site for site, _, _ in items], QUIET_FIELDS)
