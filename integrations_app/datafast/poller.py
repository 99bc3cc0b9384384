"""Poll one DataFast website: fetch, record, update provider states, detect changes."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings

from integrations_app.alerts.changes import record_change
from integrations_app.datafast.client import PROVIDERS, DataFastClient, WebsiteIntegrations
from integrations_app.models import DataFastSite, ProviderState, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.polling.outcome import (
    SOURCE_FIELDS,
    Asked,
    PollOutcome,
    ask_upstream,
    ask_upstream_async,
    polled_since,
    record_asked_failure,
    record_success,
)
from integrations_app.polling.snapshots import store_snapshot
from integrations_app.polling.transitions import Subject, claim, record_transition, settle_flapping
from integrations_app.polling.write_queue import write_transaction
from integrations_app.problems import is_disconnect, paddle_state

PADDLE_FIELDS = ["currency", "paddle_key_expires_at"]  # and `paddle_expiry_state`, by compare-and-set


def connection_word(connected: bool) -> str:
    return "connected" if connected else "not connected"


def poll_site(site_id: int, *, dispatched_at: datetime | None = None) -> PollOutcome | None:
    """Poll one website; None when it was already polled since `dispatched_at` (a redelivery).
    A worker polls its batches with `batch.poll_sites`, which writes the same rows in bulk."""
    site = DataFastSite.objects.select_related("account").get(pk=site_id)
    if polled_since(site, dispatched_at):
        return None
    return record_site(site, ask_site(site))


def ask_site(site: DataFastSite) -> Asked[WebsiteIntegrations]:
    return ask_upstream(
        lambda deadline: DataFastClient(site.account.secret, deadline=deadline).website_integrations(site.website_id)
    )


async def ask_site_async(site: DataFastSite, *, queue_until: float | None = None) -> Asked[WebsiteIntegrations]:
    """`ask_site` on the poll loop. `site.account` must be loaded already: no query runs there.
    Past `queue_until` (time.monotonic()) without a slot for the host: `http_async.NotAsked`."""
    return await ask_upstream_async(
        lambda deadline: DataFastClient(site.account.secret, deadline=deadline).website_integrations_async(
            site.website_id
        ),
        url=settings.DATAFAST_BASE_URL,
        queue_until=queue_until,
    )


def record_site(site: DataFastSite, asked: Asked[WebsiteIntegrations]) -> PollOutcome:
    """Record one poll's answer: the attempt, the snapshot, the providers and the Paddle expiry, and
    every transition through the change recorder."""
    if asked.answer is None:
        return record_asked_failure(site, asked)
    result, started, duration = asked.answer, asked.started, asked.duration_ms
    first_observation = site.last_success_at is None
    with write_transaction():
        changes = record_success(site, started=started, duration_ms=duration)
        store_snapshot(site, result.as_snapshot(), now=started)
        changes += apply_providers(site, result, now=started)
        changes += apply_paddle_expiry(site, result, now=started, first_observation=first_observation)
        site.save(update_fields=[*SOURCE_FIELDS, "snapshot_digest", "has_disconnect", *PADDLE_FIELDS])
    return PollOutcome(str(site), ok=True, changes=changes)


def provider_subject(state: ProviderState) -> Subject:
    links = {"site": state.site, "provider": state.provider}
    return Subject(state, ChangeKind.PROVIDER, "connected", links, identity=links)


def apply_providers(site: DataFastSite, result: WebsiteIntegrations, *, now: datetime) -> list[StatusChange]:
    states = {state.provider: state for state in site.providers.all()}
    changes: list[StatusChange] = []
    new_rows = []
    for provider, connected in result.connected.items():
        state = states.get(provider)
        if state is None:
            # First sight of this provider (or of the site): record it, alert nobody.
            new_rows.append(ProviderState(site=site, provider=provider, connected=connected, since=now))
            continue
        subject = provider_subject(state)
        if state.connected != connected:
            changes += record_transition(
                subject,
                to=connected,
                old=connection_word(state.connected),
                new=connection_word(connected),
                bad=not connected,
                reason=f"DataFast reports {PROVIDERS[provider]} {connection_word(connected)}",
                now=now,
            )
        elif state.flapping_since is not None and (
            settled := settle_flapping(subject, current=connection_word(connected), bad=not connected, now=now)
        ):
            changes.append(settled)
    if new_rows:
        # An overlapping first poll may have inserted them already: its rows stand.
        ProviderState.objects.bulk_create(new_rows, ignore_conflicts=True)
    site.has_disconnect = any(is_disconnect(state) for state in states.values())
    return changes


def paddle_expiry_state(result: WebsiteIntegrations, now: datetime) -> str:
    return paddle_state(result.connected["paddle"], result.paddle_key_expires_at, now)


def apply_paddle_expiry(
    site: DataFastSite, result: WebsiteIntegrations, *, now: datetime, first_observation: bool
) -> list[StatusChange]:
    """Alert once when the Paddle key comes within 14 days of expiry, once when it expires,
    and once more when a new key clears it. The first poll of a site only records the state.
    Sets PADDLE_FIELDS on the site for the caller to save; the expiry state itself is moved here
    with a compare-and-set, so overlapping polls alert once."""
    old, new = site.paddle_expiry_state, paddle_expiry_state(result, now)
    site.currency = result.currency
    site.paddle_key_expires_at = result.paddle_key_expires_at
    if old == new or not claim(site, {"paddle_expiry_state": old}, {"paddle_expiry_state": new}):
        return []
    if first_observation:
        return []
    if new in ("expiring", "expired"):
        severity, notify = Severity.PROBLEM, True
    elif old in ("expiring", "expired"):
        severity, notify = Severity.RECOVERY, True
    else:
        severity, notify = Severity.INFO, False
    when = result.paddle_key_expires_at.isoformat() if result.paddle_key_expires_at else "no expiry"
    return [
        record_change(
            ChangeKind.PADDLE_EXPIRY,
            severity,
            at=now,
            old=old,
            new=new,
            reason=f"Paddle API key expiry: {when}",
            notify=notify,
            site=site,
            provider="paddle",
        )
    ]
