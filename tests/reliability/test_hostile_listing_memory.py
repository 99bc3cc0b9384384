"""Bounded memory whatever upstream sends (issue 9, section 4): a ChargebackStop listing that claims
10^12 integrations, 10 per page, each with 20,000 merchant IDs. Once it drove `poll --sync` to 3.5 GB
in 33 s. Measured here with psutil on real processes (`poll --sync`, and a worker), sampled every
20 ms: the peak stays under 250 MB, the poll ends with an incomplete listing that says why, and
nothing is declared gone."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psutil
import pytest
from django.conf import settings

from integrations_app.models import Integration, PollAttempt
from integrations_app.tasks import poll_key
from sandbox.server import SandboxServer
from tests import factories
from tests.reliability.processes import Launcher, wait_for

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

LIMIT_MB = 250
HOSTILE: dict[str, Any] = {"kind": "huge_listing", "count": 10**12, "items": 10, "merchant_ids": 20_000}


def peak_rss_mb(pid: int, done: Callable[[], bool], *, timeout: float) -> tuple[float, float]:
    """Sample the process's RSS until `done()`; return the peak in MB and the seconds it took.
    Stops early (and the test fails) once the limit is passed: no need to watch it reach gigabytes."""
    process = psutil.Process(pid)
    started = time.monotonic()
    peak = 0.0
    while not done():
        try:
            peak = max(peak, process.memory_info().rss / 1e6)
        except psutil.NoSuchProcess:
            break
        if peak > LIMIT_MB or time.monotonic() - started > timeout:
            break
        time.sleep(0.02)
    return peak, time.monotonic() - started


def assert_incomplete_and_bounded(key_pk: int, peak: float, seconds: float, where: str) -> None:
    assert peak < LIMIT_MB, f"{where} reached {peak:.0f} MB"
    attempt = PollAttempt.objects.get(key_id=key_pk)
    # The README's measured outcome.
    print(f"\n{where}: peak RSS {peak:.0f} MB; poll {attempt.duration_ms} ms, {attempt.requests} requests")
    print(f"attempt: {attempt.message}")
    assert attempt.ok, attempt.message
    assert "listing incomplete" in attempt.message and "budget" in attempt.message, attempt.message
    if "20,000 merchant IDs per item" in where or where == "worker":
        assert "20,000 merchant IDs, over the 1,000 kept per integration" in attempt.message, attempt.message
    else:  # every item was readable and kept: the merchant-ID budget stopped the listing
        assert "budget of 200,000 merchant IDs" in attempt.message, attempt.message
        assert Integration.objects.count() == 200
    assert not Integration.objects.filter(status="GONE").exists()


@pytest.mark.parametrize("merchant_ids", [20_000, 1_000], ids=["20,000 merchant IDs each", "1,000 (all kept)"])
def test_poll_sync_stays_under_250_mb_on_a_hostile_listing(
    launcher: Launcher, sandbox: SandboxServer, merchant_ids: int
):
    key = factories.key()
    sandbox.state.faults.add("/v1/integrations/", **{**HOSTILE, "merchant_ids": merchant_ids})
    process = subprocess.Popen(
        [sys.executable, "manage.py", "poll", "--sync"],
        cwd=settings.BASE_DIR,
        env=launcher.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        peak, seconds = peak_rss_mb(process.pid, lambda: process.poll() is not None, timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate(timeout=30)[0].decode(errors="replace")
    assert process.returncode == 0 or peak > LIMIT_MB, output
    assert_incomplete_and_bounded(key.pk, peak, seconds, f"poll --sync, {merchant_ids:,} merchant IDs per item")


def test_a_worker_stays_under_250_mb_on_a_hostile_listing(launcher: Launcher, sandbox: SandboxServer):
    key = factories.key()
    worker = launcher.worker("memory", concurrency=2)
    sandbox.state.faults.add("/v1/integrations/", **HOSTILE)
    poll_key.apply_async((key.pk, None))
    peak, seconds = peak_rss_mb(worker.pid, lambda: PollAttempt.objects.filter(key=key).exists(), timeout=120)
    wait_for(lambda: PollAttempt.objects.filter(key=key).exists() or peak > LIMIT_MB, timeout=5, message="the poll")
    assert worker.alive(), worker.tail()
    assert_incomplete_and_bounded(key.pk, peak, seconds, "worker")
