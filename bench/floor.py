"""The floor poller: the least a poller can do for one cycle, to measure Paystatus against.

One process, one asyncio loop, aiohttp with kept-alive connections and a semaphore of `--concurrency`
requests in flight. It does the same upstream requests as a cycle of the product (one DataFast GET
per website, every page of each ChargebackStop key's listing), decodes each answer, and makes the
same database writes, batched: the poll attempts inserted and the sources' poll times updated, 200
rows a transaction, in one database thread beside the loop. It keeps no history, derives no state
and sends nothing: what it costs is the floor under any poller of this work.

    python -m bench.floor --concurrency 32     # prints one JSON line: wall, cpu, polls, requests

Run by the bench (`bench/cycle.py: run_floor`) with the bench's environment, after the product's
cycles, on the same database and sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import django  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite  # noqa: E402

WRITE_BATCH = 200


@dataclass
class Result:
    site_id: int | None
    key_id: int | None
    started: datetime
    duration_ms: int
    ok: bool
    status: int | None
    requests: int
    interval: int


@dataclass
class Floor:
    concurrency: int
    results: list[Result] = field(default_factory=list)
    requests: int = 0
    failed: int = 0

    async def get(self, session: aiohttp.ClientSession, url: str, token: str, **params: Any) -> tuple[int, Any]:
        async with session.get(url, params=params, headers={"Authorization": f"Bearer {token}"}) as response:
            self.requests += 1
            body = await response.read()
            return response.status, json.loads(body) if response.status == 200 else None

    async def poll_site(self, session: aiohttp.ClientSession, site: dict[str, Any]) -> None:
        started, clock = timezone.now(), time.monotonic()
        url = f"{settings.DATAFAST_BASE_URL}/api/v1/admin/websites/{site['website_id']}/integrations"
        status, payload = await self.get(session, url, site["token"])
        ok = status == 200 and bool(payload.get("data"))
        self.done(Result(site["pk"], None, started, _ms(clock), ok, status, 1, site["interval"]))

    async def poll_key(self, session: aiohttp.ClientSession, key: dict[str, Any]) -> None:
        started, clock = timezone.now(), time.monotonic()
        url = f"{settings.CHARGEBACKSTOP_BASE_URL}/v1/integrations/"
        offset, pages, status, ok = 0, 0, 0, True
        while True:
            status, payload = await self.get(
                session, url, key["token"], limit=settings.CHARGEBACKSTOP_PAGE_SIZE, offset=offset
            )
            pages += 1
            if status != 200:
                ok = False
                break
            offset += len(payload["items"])
            if not payload["items"] or offset >= payload["count"]:
                break
        self.done(Result(None, key["pk"], started, _ms(clock), ok, status, pages, key["interval"]))

    def done(self, result: Result) -> None:
        self.failed += not result.ok
        self.results.append(result)

    async def run(self, sites: list[dict[str, Any]], keys: list[dict[str, Any]]) -> None:
        """`concurrency` pollers take the sources one after another (the keys first: their listings
        are the longest), so at most that many requests are in flight; a writer hands the results to
        the database thread every 50 ms, `WRITE_BATCH` rows a transaction."""
        loop = asyncio.get_running_loop()
        jobs = iter([*((self.poll_key, key) for key in keys), *((self.poll_site, site) for site in sites)])
        connector = aiohttp.TCPConnector(limit=self.concurrency, limit_per_host=self.concurrency)
        timeout = aiohttp.ClientTimeout(total=settings.UPSTREAM_REQUEST_DEADLINE)
        with ThreadPoolExecutor(1, thread_name_prefix="floor-db") as database:
            writes: list[asyncio.Future[None]] = []

            def flush(everything: bool) -> None:
                while len(self.results) >= WRITE_BATCH or (everything and self.results):
                    batch, self.results = self.results[:WRITE_BATCH], self.results[WRITE_BATCH:]
                    writes.append(loop.run_in_executor(database, write, batch))

            async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

                async def poller() -> None:
                    for poll, source in jobs:
                        await poll(session, source)

                pollers = asyncio.gather(*(poller() for _ in range(self.concurrency)))
                while not pollers.done():
                    await asyncio.wait([pollers], timeout=0.05)
                    flush(everything=False)
                await pollers
            flush(everything=True)
            await asyncio.gather(*writes)


def _ms(clock: float) -> int:
    return int((time.monotonic() - clock) * 1000)


def load_sources() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every enabled source with its credential, decrypted once per account (as a lean poller would)."""
    tokens = {account.pk: account.secret.reveal() for account in DataFastAccount.objects.all()}
    sites = [
        {"pk": pk, "website_id": website_id, "token": tokens[account], "interval": interval}
        for pk, website_id, account, interval in DataFastSite.objects.filter(enabled=True).values_list(
            "pk", "website_id", "account_id", "poll_interval_seconds"
        )
    ]
    keys = [
        {"pk": key.pk, "token": key.secret.reveal(), "interval": key.poll_interval_seconds}
        for key in ChargebackStopKey.objects.filter(enabled=True)
    ]
    return sites, keys


def _interval(seconds: int | None) -> timedelta:
    return timedelta(seconds=seconds or settings.POLL_INTERVAL_SECONDS)


SOURCE_TABLES = {"site": "integrations_app_datafastsite", "key": "integrations_app_chargebackstopkey"}


def write(batch: list[Result]) -> None:
    """One transaction: the attempts in one INSERT, the sources' times in one UPDATE per table."""
    when = connection.ops.adapt_datetimefield_value
    attempts = [
        (r.site_id, r.key_id, when(r.started), r.duration_ms, r.ok, "" if r.ok else "error", r.status, r.requests)
        for r in batch
    ]
    updates: dict[str, list[tuple[Any, ...]]] = {"site": [], "key": []}
    for r in batch:
        interval = _interval(r.interval)
        next_poll = r.started + interval * (1 - random.uniform(0, 0.1))
        row = (when(next_poll), when(r.started), when(r.started) if r.ok else None, when(r.started + 2 * interval))
        if r.site_id is not None:
            updates["site"].append((*row, r.site_id))
        else:
            updates["key"].append((*row, r.key_id))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO integrations_app_pollattempt "
            "(site_id, key_id, started_at, duration_ms, ok, error_kind, http_status, message, requests) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, '', %s)",
            attempts,
        )
        for kind, rows in updates.items():
            if rows:
                cursor.executemany(
                    f"UPDATE {SOURCE_TABLES[kind]} SET next_poll_at = %s, last_polled_at = %s, "  # noqa: S608
                    "last_success_at = COALESCE(%s, last_success_at), stale_after = %s WHERE id = %s",
                    rows,
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args(argv)
    cpu, started = time.process_time(), time.monotonic()
    sites, keys = load_sources()
    floor = Floor(args.concurrency)
    asyncio.run(floor.run(sites, keys))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu
    polls = len(sites) + len(keys)
    print(json.dumps({"wall": wall, "cpu": cpu, "polls": polls, "requests": floor.requests, "failed": floor.failed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
