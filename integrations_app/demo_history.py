"""30 days of plausible history for the demo, so that timelines and strips are not empty on the
first visit (`load_demo` calls it once, on a database with no history yet).

What it writes is what polling would have written, backdated: provider disconnects that were
reconnected, a few slow hours of poll errors in the last day, and for ChargebackStop the demo's
integrations as the partner key saw them, one of them disabled outside the dashboard for two hours
and enabled again. Nothing is left open and nothing is to be notified, so the current state (and
what alerts) is still decided by the first real polls. Deterministic: the same demo every time.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from integrations_app.alerts.changes import change, record
from integrations_app.chargebackstop.models import IntegrationStatus
from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import (
    ChargebackStopKey,
    DataFastSite,
    Integration,
    Organisation,
    PollAttempt,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity

DAYS = 30
ATTEMPT_EVERY = timedelta(minutes=15)  # the last 24 h of poll attempts, for the overview's strips


def _provider_incidents(site: DataFastSite, connected: list[str], now: datetime, rng: random.Random) -> list[Any]:
    changes = []
    for provider in connected:
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            start = now - timedelta(days=rng.uniform(1.5, DAYS - 1))
            # Mostly minutes, sometimes hours: short incidents must stay visible on a timeline.
            length = timedelta(minutes=rng.choice([3, 7, 20, 45, 90, 240, 600]))
            label = PROVIDERS[provider]
            changes += [
                change(
                    kind=ChangeKind.PROVIDER,
                    severity=Severity.PROBLEM,
                    at=start,
                    old="connected",
                    new="not connected",
                    reason=f"DataFast reports {label} not connected",
                    site=site,
                    provider=provider,
                ),
                change(
                    kind=ChangeKind.PROVIDER,
                    severity=Severity.RECOVERY,
                    at=start + length,
                    old="not connected",
                    new="connected",
                    reason=f"DataFast reports {label} connected",
                    site=site,
                    provider=provider,
                ),
            ]
    return changes


def _attempts(site: DataFastSite, now: datetime, rng: random.Random) -> list[PollAttempt]:
    bad_hour = rng.randrange(2, 23)  # one slow hour in the day for some sites
    shaky = rng.random() < 0.4
    attempts = []
    at = now - timedelta(hours=24)
    while at < now - ATTEMPT_EVERY:
        hours_ago = int((now - at).total_seconds() // 3600)
        ok = not (shaky and hours_ago == bad_hour and rng.random() < 0.6)
        attempts.append(
            PollAttempt(
                site=site,
                started_at=at,
                ok=ok,
                duration_ms=rng.randint(80, 400) if ok else 15000,
                error_kind="" if ok else "timeout",
                message="" if ok else "DataFast did not answer within 15 s",
            )
        )
        at += ATTEMPT_EVERY
    return attempts


def _integrations(scenario: dict[str, Any], now: datetime, rng: random.Random) -> list[StatusChange]:
    key = ChargebackStopKey.objects.filter(level="partner").order_by("pk").first()
    organisations = {organisation.organisation_id: organisation for organisation in Organisation.objects.all()}
    changes: list[StatusChange] = []
    flapped = False
    for entry in scenario["chargebackstop"]["integrations"]:
        organisation = organisations.get(entry["organisation_id"])
        if organisation is None or Integration.objects.filter(integration_id=entry["id"]).exists():
            continue
        first_seen = now - timedelta(days=DAYS)
        since = first_seen
        if entry["status"] == IntegrationStatus.DISABLED:
            since = now - timedelta(days=rng.uniform(3, DAYS - 3))
        integration = Integration.objects.create(
            integration_id=entry["id"],
            organisation=organisation,
            seen_by=key,
            name=entry["name"],
            type=entry["type"],
            status=entry["status"],
            merchant_ids=list(entry["merchant_ids"]),
            since=since,
            first_seen_at=first_seen,
            last_seen_at=now - timedelta(minutes=20),
        )
        links: dict[str, Any] = {"integration": integration, "organisation": organisation, "key": key}
        if entry["status"] == IntegrationStatus.DISABLED:
            changes.append(
                change(
                    kind=ChangeKind.INTEGRATION_STATUS,
                    severity=Severity.INFO,
                    at=since,
                    old=IntegrationStatus.ENABLED,
                    new=IntegrationStatus.DISABLED,
                    reason="disabled outside the dashboard",
                    outside_dashboard=True,
                    **links,
                )
            )
        elif not flapped:
            flapped = True
            start = now - timedelta(days=12, hours=3)
            changes += [
                change(
                    kind=ChangeKind.INTEGRATION_STATUS,
                    severity=Severity.PROBLEM,
                    at=start,
                    old=IntegrationStatus.ENABLED,
                    new=IntegrationStatus.DISABLED,
                    reason="disabled outside the dashboard",
                    outside_dashboard=True,
                    **links,
                ),
                change(
                    kind=ChangeKind.INTEGRATION_STATUS,
                    severity=Severity.RECOVERY,
                    at=start + timedelta(hours=2),
                    old=IntegrationStatus.DISABLED,
                    new=IntegrationStatus.ENABLED,
                    reason="enabled outside the dashboard",
                    outside_dashboard=True,
                    **links,
                ),
            ]
    return changes


@transaction.atomic
def seed(scenario: dict[str, Any], now: datetime | None = None) -> int:
    """Write the history once; returns how many changes it wrote (0 when history exists)."""
    now = now or timezone.now()
    if StatusChange.objects.exists() or PollAttempt.objects.exists():
        return 0
    rng = random.Random(13)  # noqa: S311 (demo data, not security)
    connected = {website["id"]: website["connected"] for website in scenario["datafast"]["websites"]}
    readable = {website for token in scenario["datafast"]["tokens"] for website in token["websites"]}
    changes: list[Any] = []
    attempts: list[PollAttempt] = []
    for site in DataFastSite.objects.filter(website_id__in=readable).order_by("name"):
        changes += _provider_incidents(site, connected.get(site.website_id, []), now, rng)
        attempts += _attempts(site, now, rng)
    # Watched for 30 days: otherwise every bar starts as "not watched yet" today.
    DataFastSite.objects.filter(website_id__in=connected).update(created_at=now - timedelta(days=DAYS))
    changes += _integrations(scenario, now, rng)
    record(*changes)  # through the one writer: nothing here is worth telling, and nobody is told
    PollAttempt.objects.bulk_create(attempts)
    return len(changes)
