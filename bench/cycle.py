"""One full poll cycle through the real path (beat → dispatch task → Redis → worker threads →
sandbox → database), timed from the start of the dispatch that hands the cycle out until every
source has a PollAttempt for it; and the same work done sequentially on a sample."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count
from django.utils import timezone

from bench.celeryapp import DISPATCH_LOG
from bench.processes import RssSampler, cpu_seconds, machine_busy_seconds
from bench.sandbox import SandboxControl
from bench.stack import Stack
from integrations_app.models import ChargebackStopKey, DataFastSite, PollAttempt
from integrations_app.polling.dispatch import run_poll

CHECK_EVERY = 0.1


class CycleError(RuntimeError):
    pass


@dataclass
class Cycle:
    label: str
    sources: int
    polled: int
    failed: int
    requests: dict[str, int]
    peak_in_flight: dict[str, int]
    wall: float  # first dispatch started → last source has its attempt
    dispatch: float  # the dispatch task itself (claim + enqueue every poll)
    peak_rss: int  # the largest worker's peak, bytes
    worker_cpu: tuple[float, float]  # user, system CPU seconds of the worker(s) during the cycle
    sandbox_cpu: float
    machine_busy: float  # share of all cores busy during the cycle, whatever ran on them
    concurrency: int  # threads over all workers

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def ideal(self, latency: float) -> float:
        return self.total_requests * latency / self.concurrency


def expected_requests(*, sites: int, integrations: int, partner_keys: int, page_size: int) -> int:
    per_key = math.ceil(integrations / partner_keys) if partner_keys else 0
    return sites + partner_keys * max(1, math.ceil(per_key / page_size))


def _dispatch_events(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in stack.redis().lrange(DISPATCH_LOG, 0, -1)]


def dispatch_window(events: list[dict[str, Any]], sources: int) -> tuple[float, float] | None:
    """From the start of the first dispatch that handed out polls to the end of the one that had
    handed out all `sources`: a tick can land while the cycle's sources are being made due, and
    then claim only those already due (a 0.2 s "dispatch" of 50,000 that was a part of them)."""
    starts = {event["id"]: event["at"] for event in events if event["event"] == "start"}
    first: float | None = None
    last = 0.0
    handed_out = 0
    for event in events:
        if event["event"] == "end" and event.get("dispatched", 0) > 0 and event["id"] in starts:
            first = starts[event["id"]] if first is None else first
            last, handed_out = event["at"], handed_out + event["dispatched"]
            if handed_out >= sources:
                break
    return None if first is None else (first, last)


def _polled_since(since: datetime) -> int:
    return PollAttempt.objects.filter(started_at__gte=since).count()


def run_cycle(stack: Stack, sandbox: SandboxControl, *, label: str, worker_pids: list[int], concurrency: int) -> Cycle:
    sources = DataFastSite.objects.filter(enabled=True).count() + ChargebackStopKey.objects.filter(enabled=True).count()
    stack.redis().delete(DISPATCH_LOG)
    sandbox.reset_stats()
    sandbox_pid = stack.supervisor.children["sandbox"].pid
    cpu_before = [cpu_seconds(pid) for pid in [*worker_pids, sandbox_pid]]
    machine_before = machine_busy_seconds()
    with ExitStack() as samplers:
        rss = [samplers.enter_context(RssSampler(pid)) for pid in worker_pids]
        due_at = timezone.now()
        DataFastSite.objects.update(next_poll_at=due_at)
        ChargebackStopKey.objects.update(next_poll_at=due_at)
        deadline = time.monotonic() + 120 + 30 * sources * 0.1 / concurrency
        polled = 0
        while polled < sources:
            if time.monotonic() > deadline:
                raise CycleError(f"{label}: only {polled} of {sources} sources polled before the deadline")
            stack.supervisor.check_alive()
            time.sleep(CHECK_EVERY)
            polled = _polled_since(due_at)
        finished = time.time()
        machine_after = machine_busy_seconds()
        cpu = [
            (user - before[0], system - before[1])
            for (user, system), before in zip(
                [cpu_seconds(pid) for pid in [*worker_pids, sandbox_pid]], cpu_before, strict=True
            )
        ]
    window = dispatch_window(_dispatch_events(stack), sources)
    if window is None:
        raise CycleError(f"{label}: no dispatch was recorded (is the worker running bench.celeryapp?)")
    started, dispatched = window
    attempts = PollAttempt.objects.filter(started_at__gte=due_at)
    distinct = attempts.aggregate(sites=Count("site", distinct=True), keys=Count("key", distinct=True))
    stats = sandbox.stats()
    return Cycle(
        label=label,
        sources=sources,
        polled=distinct["sites"] + distinct["keys"],
        failed=attempts.filter(ok=False).count(),
        requests={api: counter["requests"] for api, counter in stats.items()},
        peak_in_flight={api: counter["peak_in_flight"] for api, counter in stats.items()},
        wall=finished - started,
        dispatch=dispatched - started,
        peak_rss=max(sampler.peak for sampler in rss),
        worker_cpu=(sum(user for user, _ in cpu[:-1]), sum(system for _, system in cpu[:-1])),
        sandbox_cpu=sum(cpu[-1]),
        machine_busy=(machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1e-9),
        concurrency=concurrency,
    )


@dataclass
class Sequential:
    sample_sites: int
    site_seconds: list[float]
    key_seconds: list[float]

    def estimate(self, *, sites: int, keys: int) -> float:
        """The whole cycle done one poll after another, from the sample's mean per source."""
        return statistics.fmean(self.site_seconds) * sites + statistics.fmean(self.key_seconds) * keys


def run_sequential(sample: int) -> Sequential:
    """Poll `sample` websites and every key one after another in this process, through the same
    service the task calls (`run_poll`, with its Redis lock), against the same latency."""
    site_ids = list(DataFastSite.objects.order_by("?").values_list("pk", flat=True)[:sample])
    key_ids = list(ChargebackStopKey.objects.values_list("pk", flat=True))
    site_seconds, key_seconds = [], []
    for pk in site_ids:
        clock = time.perf_counter()
        outcome = run_poll("site", pk)
        site_seconds.append(time.perf_counter() - clock)
        if outcome is None or not outcome.ok:
            raise CycleError(f"the sequential poll of site {pk} did not succeed: {outcome}")
    for pk in key_ids:
        clock = time.perf_counter()
        run_poll("key", pk)
        key_seconds.append(time.perf_counter() - clock)
    return Sequential(sample_sites=len(site_ids), site_seconds=site_seconds, key_seconds=key_seconds)


@dataclass
class FloorCycle:
    """The floor poller's cycle (bench/floor.py), in its own process, on the same sandbox and database."""

    wall: float  # reading the sources → last batch written
    cpu: float  # the floor process's CPU seconds
    polls: int
    requests: int
    failed: int
    sandbox_cpu: float
    machine_busy: float
    concurrency: int


def run_floor(stack: Stack, sandbox: SandboxControl, *, concurrency: int) -> FloorCycle:
    sandbox.reset_stats()
    sandbox_pid = stack.supervisor.children["sandbox"].pid
    sandbox_before = sum(cpu_seconds(sandbox_pid))
    machine_before = machine_busy_seconds()
    finished = subprocess.run(
        [sys.executable, "-m", "bench.floor", "--concurrency", str(concurrency)],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    machine_after = machine_busy_seconds()
    if finished.returncode != 0:
        raise CycleError(f"the floor poller failed:\n{finished.stderr[-3000:]}")
    result = json.loads(finished.stdout.strip().splitlines()[-1])
    stats = sandbox.stats()
    return FloorCycle(
        wall=result["wall"],
        cpu=result["cpu"],
        polls=result["polls"],
        requests=result["requests"],
        failed=result["failed"],
        sandbox_cpu=sum(cpu_seconds(sandbox_pid)) - sandbox_before,
        machine_busy=(machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1e-9),
        concurrency=max(counter["peak_in_flight"] for counter in stats.values()),
    )
