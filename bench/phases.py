"""The bench's phases in order, each adding rows to the report. Imported after the environment is
set, because Django reads its settings from it."""

from __future__ import annotations

import logging
import math
import os
import random
import statistics
from datetime import timedelta
from typing import TYPE_CHECKING

import django
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import get_resolver
from django.utils import timezone

from bench.config import Scale
from bench.report import Report, megabytes, ms, seconds
from bench.stack import Stack

if TYPE_CHECKING:
    from bench.postgres import Cluster

django.setup()

from bench import cycle, detection, pages, plans, retention, seed  # noqa: E402
from bench.sandbox import SandboxControl  # noqa: E402
from integrations_app.alerts.batching import GROUP_QUIET  # noqa: E402
from integrations_app.models import DataFastSite  # noqa: E402
from sandbox.scenarios import generated_scenario  # noqa: E402
from tests.smtp_sink import SmtpSink  # noqa: E402

NEEDS_POLLED_DATA = {"cycle", "detection", "pages", "plans"}


def run_all(stack: Stack, scale: Scale, phases: set[str], report: Report, *, cluster: Cluster | None) -> None:
    get_resolver().url_patterns  # noqa: B018 (import every view now: a broken import fails here, not at the end)
    report.database = describe_database()
    print(f"Bench in {stack.workdir} on {report.database}", flush=True)
    call_command("migrate", verbosity=0)
    if phases & NEEDS_POLLED_DATA:
        stack.start_redis()
        stack.start_sandbox()
        sandbox = SandboxControl(stack.sandbox_url)
        print("Seeding the sandbox and the database...", flush=True)
        sandbox.reset_generated(scale.scenario_args())
        sandbox.set_latency(scale.latency)
        registered = seed.register(
            generated_scenario(**scale.scenario_args()), next_poll_at=timezone.now() + timedelta(days=1)
        )
        print(f"  {registered}", flush=True)
        if scale.scale_run:
            warmed = seed.warm(generated_scenario(**scale.scenario_args()))
            print(f"  {warmed} websites left as a first poll leaves them (the first cycle is a steady one)", flush=True)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection
        with SmtpSink(stack.ports.smtp) as sink:
            poll_cycles(stack, sandbox, scale, report)
            stack.stop_pollers()
            if "detection" in phases:
                detection_latency(stack, sandbox, sink, scale, report)
        if phases & {"pages", "plans"}:
            call_command("collectstatic", "--no-input", verbosity=0)
            client = pages.logged_in_client(seed.superuser())
            pages.same_page_size_in_admin()
            if "pages" in phases:
                page_timings(client, scale, report)
            if "plans" in phases:
                query_plans(client, report)
            if "pages" in phases:
                small_database_queries(client, scale, report)
    if "retention" in phases:
        stack.stop()
        retention_size(stack, scale, report, cluster=cluster)


def describe_database() -> str:
    vendor = connection.vendor
    if vendor == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version} (WAL, a file in a temporary directory)"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return f"PostgreSQL {version} (a throwaway local cluster)"


def poll_cycles(stack: Stack, sandbox: SandboxControl, scale: Scale, report: Report) -> None:
    threads = scale.workers * scale.threads
    pids = stack.start_workers(workers=scale.workers, threads=scale.threads)
    stack.start_beat(tick=1)
    results = []
    for label in ("first cycle (cold: every row new)", "steady cycle (sources already known)"):
        print(f"Poll cycle: {label}...", flush=True)
        results.append(cycle.run_cycle(stack, sandbox, label=label, worker_pids=pids, concurrency=threads))
    print(f"Sequential sample ({scale.sequential_sample} websites, {scale.partner_keys} keys)...", flush=True)
    sequential = cycle.run_sequential(scale.sequential_sample)
    stack.stop_pollers()  # the floor runs alone, on the same sandbox and database
    print(f"Floor poller (bench/floor.py: asyncio + aiohttp, {threads} in flight, batched writes)...", flush=True)
    floor = cycle.run_floor(stack, sandbox, concurrency=threads)
    expected = cycle.expected_requests(
        sites=scale.sites,
        integrations=scale.integrations,
        partner_keys=scale.partner_keys,
        page_size=settings.CHARGEBACKSTOP_PAGE_SIZE,
    )
    report_sequential(report, sequential)
    for result in results:
        report_cycle(report, scale, result, sequential, expected)
    report_floor(report, scale, results[-1], floor)
    if scale.scale_run:
        report_scale(report, scale, results[-1])
    explain_cycle(report, scale, results[-1], sequential)


def report_scale(report: Report, scale: Scale, steady: cycle.Cycle) -> None:
    """The scale targets of issue 15: the steady cycle inside a production interval, the workers'
    share of the machine over that interval, and the dispatch of every due source."""
    interval = scale.production_interval
    cores = os.cpu_count() or 1
    cpu = sum(steady.worker_cpu)
    report.add(
        f"scale: steady cycle of {steady.sources:,} sources against a {interval // 60}-minute interval",
        f"{seconds(steady.wall)} = {steady.wall / interval:.0%} of it",
        f"≤ {interval} s",
        steady.wall <= interval,
    )
    share = cpu / (interval * cores)
    report.add(
        "scale: worker CPU as a share of the machine, over the interval / during the cycle",
        f"{share:.0%} ({cpu:.0f} s of {interval * cores} core-seconds) / {cpu / (steady.wall * cores):.0%}",
        "< 50 % over the interval",
        share < 0.5,
    )
    report.add(
        f"scale: dispatch of {steady.sources:,} due sources (claim, then enqueue the batches)",
        seconds(steady.dispatch),
        "≤ 2 s",
        steady.dispatch <= 2,
    )


def report_floor(report: Report, scale: Scale, steady: cycle.Cycle, floor: cycle.FloorCycle) -> None:
    """The figures that count: the product's steady cycle and CPU per poll as ratios to the floor's,
    measured in the same run (absolute times move from run to run on a shared machine)."""
    floor_ms = floor.cpu / max(floor.polls, 1) * 1000
    steady_ms = sum(steady.worker_cpu) / max(steady.polled, 1) * 1000
    ideal = floor.requests * scale.latency / scale.concurrency
    report.add(
        f"floor poller: cycle, {floor.polls} sources, {floor.requests} requests, {floor.failed} failed",
        f"{seconds(floor.wall)} = {floor.wall / ideal:.2f}× ideal; {floor_ms:.2f} ms CPU per poll; "
        f"sandbox {floor.sandbox_cpu:.1f} s; cores {floor.machine_busy:.0%} busy; peak in flight {floor.concurrency}",
    )
    cycle_ratio = steady.wall / floor.wall
    cpu_ratio = steady_ms / max(floor_ms, 1e-9)
    report.add("steady cycle ÷ floor cycle", f"{cycle_ratio:.2f}×", "≤ 1.15×", cycle_ratio <= 1.15)
    report.add(
        "worker CPU per poll ÷ floor's",
        f"{cpu_ratio:.2f}× ({steady_ms:.2f} ÷ {floor_ms:.2f} ms)",
        "≤ 1.5×",
        cpu_ratio <= 1.5,
    )
    sandbox_ms = steady.sandbox_cpu / max(steady.total_requests, 1) * 1000
    share = steady.sandbox_cpu / steady.wall / (os.cpu_count() or 1)
    report.add(
        "sandbox CPU (the rig) in the steady cycle",
        f"{steady.sandbox_cpu:.1f} s = {sandbox_ms:.2f} ms per request, {share:.0%} of the machine",
    )


def report_cycle(
    report: Report, scale: Scale, result: cycle.Cycle, sequential: cycle.Sequential, expected: int
) -> None:
    name = result.label.split(" (")[0]
    ideal = result.ideal(scale.latency)
    ratio = result.wall / ideal
    estimate = sequential.estimate(sites=scale.sites, keys=scale.partner_keys)
    speed_up = estimate / result.wall
    all_polled = result.polled == result.sources and result.failed == 0
    report.add(
        f"{name}: sources polled", f"{result.polled} of {result.sources}, {result.failed} failed", "all", all_polled
    )
    requests = ", ".join(f"{api} {count}" for api, count in result.requests.items())
    report.add(f"{name}: upstream requests", f"{result.total_requests} ({requests})", str(expected))
    report.add(f"{name}: wall time, first dispatch → last attempt", seconds(result.wall))
    report.add(f"{name}: ideal, requests × {scale.latency * 1000:.0f} ms ÷ {result.concurrency}", seconds(ideal))
    report.add(f"{name}: wall ÷ ideal", f"{ratio:.2f}×", "≤ 1.20×", ratio <= 1.2)
    report.add(
        f"{name}: speed-up vs sequential ({estimate:.0f} s, estimated)", f"{speed_up:.1f}×", "≥ 40×", speed_up >= 40
    )
    report.add(f"{name}: dispatch task (claim, then enqueue the batches)", seconds(result.dispatch))
    user, system = result.worker_cpu
    per_poll = (user + system) / max(result.polled, 1) * 1000
    busy = share_per_worker(result, scale)
    report.add(
        f"{name}: CPU of worker(s), user + system / sandbox / whole machine",
        f"{user:.1f} + {system:.1f} s = {per_poll:.1f} ms per poll, {busy:.0%} of one core per worker "
        f"/ {result.sandbox_cpu:.1f} s / cores {result.machine_busy:.0%} busy",
    )
    report.add(f"{name}: worker peak RSS", megabytes(result.peak_rss), "≤ 250 MB", result.peak_rss <= 250 * 1024**2)
    peaks = ", ".join(f"{api} {count}" for api, count in result.peak_in_flight.items())
    worst = max(result.peak_in_flight.values())
    report.add(
        f"{name}: peak concurrent requests per upstream", peaks, f"≤ {result.concurrency}", worst <= result.concurrency
    )


def share_per_worker(result: cycle.Cycle, scale: Scale) -> float:
    """The worker processes' CPU over the cycle, as a share of one core each: the polling workers
    and the control one, whose CPU `worker_cpu` counts too (`Stack.start_workers`)."""
    return sum(result.worker_cpu) / result.wall / (scale.workers + 1)


def explain_cycle(report: Report, scale: Scale, result: cycle.Cycle, sequential: cycle.Sequential) -> None:
    """What bounds the cycle, in numbers, for the notes under the table."""
    per_request = statistics.fmean(sequential.site_seconds)
    ceiling = result.concurrency * per_request / scale.latency
    report.note(
        f"Speed-up ceiling: with {result.concurrency} requests in flight the cycle cannot beat "
        f"{result.concurrency} × the sequential rate, so the speed-up is at most {result.concurrency} × "
        f"{per_request * 1000:.0f} ms ÷ {scale.latency * 1000:.0f} ms = {ceiling:.0f}× even at exactly the ideal; "
        f"≥ 40× needs about {math.ceil(40 * scale.latency / per_request)} requests in flight."
    )
    cpu = sum(result.worker_cpu)
    busy = share_per_worker(result, scale)
    if busy >= 0.85:
        verdict = "each worker process is CPU-bound (its threads share one core), not waiting on the upstream"
    elif result.machine_busy >= 0.85:
        verdict = "the machine's cores were saturated (workers, sandbox, and any other work on the machine)"
    else:
        verdict = "neither the workers nor the machine were saturated: the rest is waiting (dispatch, database, tail)"
    report.note(
        f"Steady cycle: the worker processes used {cpu:.0f} s of CPU in {result.wall:.0f} s ({busy:.0%} of one core "
        f"each), the sandbox {result.sandbox_cpu:.0f} s; the machine's {os.cpu_count()} cores were "
        f"{result.machine_busy:.0%} busy in all. That is {cpu / max(result.polled, 1) * 1000:.1f} ms of worker CPU "
        f"per poll × {result.polled} polls, against an ideal cycle of {result.ideal(scale.latency):.1f} s. Requests "
        f"in flight peaked at {max(result.peak_in_flight.values())} of {result.concurrency}: {verdict}. The dispatch "
        f"task (claim, then enqueue the batches) ran {result.dispatch:.1f} s inside a worker."
    )


def report_sequential(report: Report, sequential: cycle.Sequential) -> None:
    site = statistics.fmean(sequential.site_seconds) * 1000
    key = statistics.fmean(sequential.key_seconds) * 1000
    report.add(
        f"sequential sample: {sequential.sample_sites} websites, {len(sequential.key_seconds)} keys, one at a time",
        f"{site:.0f} ms per website, {key:.0f} ms per key",
    )


def detection_latency(stack: Stack, sandbox: SandboxControl, sink: SmtpSink, scale: Scale, report: Report) -> None:
    """Worker(s) and beat as in production (the default tick), watched websites on the interval."""
    watched = detection.watched_sites(scale.detection_trials, seed=scale.seed)
    detection.spread_schedule([site for site, _ in watched], scale.interval, seed=scale.seed)
    stack.start_workers(workers=scale.workers, threads=scale.threads)
    stack.start_beat(tick=settings.POLL_TICK_SECONDS)
    rng = random.Random(scale.seed)
    result = detection.Detection(interval=scale.interval)
    try:
        for number, (site, provider) in enumerate(watched):
            delay = 0.0 if number == 0 else rng.uniform(0, scale.interval)
            print(f"Detection trial {number + 1}: {provider} off on {site.name}, {delay:.0f} s after a poll...")
            trial = detection.run_trial(
                sink,
                sandbox,
                site,
                provider,
                interval=scale.interval,
                delay=delay,
                alive=stack.supervisor.check_alive,
            )
            result.trials.append(trial)
            print(f"  {trial.seconds if trial.seconds is not None else 'no email'} s", flush=True)
    finally:
        stack.stop_pollers()
    limit = scale.interval + 10
    countdown = GROUP_QUIET.total_seconds() + 1
    report.note(
        f"Detection, worst case by construction: the next poll starts at most {scale.interval} s after the last "
        f"one started, beat claims it within a tick ({settings.POLL_TICK_SECONDS} s), the poll then queues the alert "
        f"sender {countdown:.0f} s later (grouping), plus a poll and an SMTP send: about "
        f"{scale.interval + settings.POLL_TICK_SECONDS + countdown + 1:.0f} s against a target of {limit} s."
    )
    for trial in result.trials:
        value = f"{trial.seconds:.1f} s" if trial.seconds is not None else "no email before the deadline"
        report.add(
            f"disconnect → alert email, {trial.moment} "
            f"(interval {scale.interval} s, tick {settings.POLL_TICK_SECONDS} s)",
            value,
            f"≤ {limit} s",
            trial.seconds is not None and trial.seconds <= limit,
        )


def page_timings(client: Client, scale: Scale, report: Report) -> None:
    page_list = pages.pages()
    print(f"Timing {len(page_list)} pages × {scale.page_requests} requests at {scale.sites} websites...", flush=True)
    pages.time_pages(client, page_list, scale.page_requests, lambda n: print(f"  {n} rounds", flush=True))
    by_name = {page.name: page for page in page_list}
    admin = by_name["admin changelist (websites)"]
    for page in page_list:
        target, ok = "", None
        if page.name == "overview":
            target = f"median ≤ 30 ms and ≤ admin's {admin.median * 1000:.1f} ms"
            ok = page.median <= 0.030 and page.median <= admin.median
        report.add(
            f"{page.name}: median / p95 server time ({len(page.seconds)} requests), SQL queries",
            f"{ms(page.median)} / {ms(page.p95)}, {page.queries} queries",
            target,
            ok,
        )
    report.query_counts[scale.sites] = {page.name: page.queries for page in page_list}


def small_database_queries(client: Client, scale: Scale, report: Report) -> None:
    """The same pages' query counts with only `small_sites` websites (the others deleted)."""
    keep = list(DataFastSite.objects.order_by("pk").values_list("pk", flat=True)[: scale.small_sites])
    print(f"Deleting all but {len(keep)} websites for the query counts...", flush=True)
    DataFastSite.objects.exclude(pk__in=keep).delete()
    page_list = pages.pages()
    small = pages.count_queries(client, page_list)
    large = report.query_counts.get(scale.sites, {})
    for name, count in small.items():
        if name.startswith("floor"):
            continue
        big = large.get(name)
        report.add(
            f"{name}: SQL queries at {scale.small_sites} → {scale.sites} websites",
            f"{count} → {big}",
            "no growth",
            big is not None and big <= count,
        )


def query_plans(client: Client, report: Report) -> None:
    print("Checking the query plans of the pages and the poller...", flush=True)
    urls = {page.name: page.url for page in pages.pages() if not page.name.startswith("floor")}
    checked, findings = plans.check({**plans.page_queries(client, urls), **plans.poller_queries()})
    report.add(
        f"query plans: scans or sorts of tables ≥ {plans.LARGE} rows ({checked} distinct queries checked)",
        str(len(findings)),
        "0, or whole-table aggregates only",
        None,
    )
    report.appendix["Query plans: full scans and sorts"] = plans.render(findings) or ["none"]


def retention_size(stack: Stack, scale: Scale, report: Report, *, cluster: Cluster | None) -> None:
    days, sites = scale.retention_days, scale.retention_sites
    print(f"Retention: {days} simulated days of history for {sites} websites, prune() every hour...", flush=True)
    if cluster is not None:
        url, path = cluster.create_database("retention"), None
    else:
        path = stack.workdir / "retention.sqlite3"
        url = f"sqlite:///{path}"
    result = retention.launch(stack.env, url, path, sites=sites, days=days)
    growth = " → ".join(f"{size / 1024**2:.0f}" for size in result["daily_bytes"])
    report.add(f"database size at the end of each simulated day (MB; {sites} websites every 5 min)", growth)
    report.add(
        f"database size after {days} days, as on disk ({result['attempts_left']:,} attempts, "
        f"{result['snapshots_left']:,} snapshots)",
        megabytes(result["bytes"]),
        "bounded: no growth after day 2",
        _levels_off(result["daily_bytes"]),
    )
    report.add("the same, compacted (VACUUM)", megabytes(result["compacted_bytes"]))
    report.add(
        "prune() each simulated hour, median / slowest",
        f"{result['prune_median'] * 1000:.0f} ms / {result['prune_max'] * 1000:.0f} ms",
    )


def _levels_off(daily: list[int]) -> bool:
    """Successful attempts are kept two days: from day 3 on, the size stays within 10 %."""
    settled = daily[2:]
    return len(settled) >= 2 and max(settled) <= 1.1 * min(settled)
