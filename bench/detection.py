"""Detection latency: switch a provider off in the sandbox and time until the alert email reaches a
real SMTP server (the tests' aiosmtpd sink, in this process), with the worker(s) and beat running as in production
and the watched websites on a 60-second poll interval."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import ChargebackStopKey, DataFastSite, PollAttempt, ProviderState
from integrations_app.models.sources import PolledSource
from tests.smtp_sink import SmtpSink


def first_mentioning(sink: SmtpSink, name: str, after: float) -> float | None:
    """When the first message since `after` that names `name` arrived ("site 1" is not "site 17")."""
    pattern = re.compile(re.escape(name) + r"\b")
    for at, message in sink.received_since(after):
        text = message.get_body(preferencelist=("plain",))
        body = text.get_content() if text is not None else ""
        if pattern.search(f"{message['Subject']}\n{body}"):
            return at
    return None


@dataclass
class Trial:
    site: str
    provider: str
    moment: str
    seconds: float | None = None  # None: no email before the deadline


@dataclass
class Detection:
    interval: int
    trials: list[Trial] = field(default_factory=list)

    @property
    def worst(self) -> float | None:
        times = [trial.seconds for trial in self.trials]
        return None if not times or None in times else max(t for t in times if t is not None)


def watched_sites(count: int, seed: int) -> list[tuple[DataFastSite, str]]:
    """Websites with a connected provider, and the provider to switch off."""
    connected = list(ProviderState.objects.filter(connected=True).select_related("site").order_by("site_id", "id"))
    rng = random.Random(seed)
    rng.shuffle(connected)
    chosen: list[tuple[DataFastSite, str]] = []
    for state in connected:
        if all(site.pk != state.site_id for site, _ in chosen):
            chosen.append((state.site, state.provider))
        if len(chosen) == count:
            break
    return chosen


def spread_schedule(watched: list[DataFastSite], interval: int, seed: int) -> None:
    """A long-running system: the watched websites on `interval`, every other source on the default
    (POLL_INTERVAL_SECONDS), each next poll spread over its interval rather than all due at once."""
    rng = random.Random(seed)
    now = timezone.now()
    watched_ids = {site.pk for site in watched}
    source_models: tuple[type[PolledSource], ...] = (DataFastSite, ChargebackStopKey)
    for model in source_models:
        rows = list(model._default_manager.only("pk", "poll_interval_seconds", "next_poll_at"))
        for row in rows:
            watched_row = model is DataFastSite and row.pk in watched_ids
            row.poll_interval_seconds = interval if watched_row else None
            period = interval if watched_row else settings.POLL_INTERVAL_SECONDS
            row.next_poll_at = now + timedelta(seconds=rng.uniform(0, period))
        model._default_manager.bulk_update(rows, ["poll_interval_seconds", "next_poll_at"], batch_size=500)


def wait_for_poll(site: DataFastSite, after_attempt: int, deadline: float, alive: Callable[[], None]) -> int:
    """Block until `site` has a poll attempt newer than `after_attempt`; return its id."""
    while time.monotonic() < deadline:
        alive()
        latest = PollAttempt.objects.filter(site=site).order_by("-id").values_list("id", flat=True).first() or 0
        if latest > after_attempt:
            return latest
        time.sleep(0.05)
    raise TimeoutError(f"{site} was not polled in time")


def run_trial(
    sink: SmtpSink,
    sandbox: Any,
    site: DataFastSite,
    provider: str,
    *,
    interval: int,
    delay: float,
    alive: Callable[[], None],
) -> Trial:
    """Wait for a poll of `site`, then `delay` seconds, then switch `provider` off; time the email."""
    moment = "right after a poll" if delay == 0 else f"{delay:.0f} s after a poll"
    trial = Trial(site=site.name, provider=PROVIDERS[provider], moment=moment)
    latest = PollAttempt.objects.filter(site=site).order_by("-id").values_list("id", flat=True).first() or 0
    wait_for_poll(site, latest, time.monotonic() + 3 * interval + 60, alive)
    time.sleep(delay)
    sandbox.set_connected(site.website_id, provider, False)
    switched = time.time()
    deadline = time.monotonic() + 2 * interval + 60
    while time.monotonic() < deadline:
        alive()
        received_at = first_mentioning(sink, site.name, switched)
        if received_at is not None:
            trial.seconds = received_at - switched
            break
        time.sleep(0.05)
    return trial
