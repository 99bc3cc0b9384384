"""Poll one ChargebackStop key: list every integration it sees, learn organisations and merchants,
and detect integrations that were disabled, renamed, re-enabled or are gone."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Q

from integrations_app.alerts.changes import change, record, record_change
from integrations_app.chargebackstop.client import ChargebackStopClient, Listing
from integrations_app.chargebackstop.client import Integration as Remote
from integrations_app.chargebackstop.models import IntegrationStatus
from integrations_app.models import ChargebackStopKey, Integration, KeyOrganisation, Organisation, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.polling.outcome import (
    SOURCE_FIELDS,
    PollOutcome,
    fetch,
    polled_since,
    record_success,
)
from integrations_app.polling.snapshots import store_snapshot
from integrations_app.polling.transitions import Subject, claim, record_transition, settle_flapping
from integrations_app.polling.write_queue import write_transaction

ENABLED, GONE = IntegrationStatus.ENABLED, IntegrationStatus.GONE
OUTSIDE = "outside the dashboard"


def poll_key(key_id: int, *, dispatched_at: datetime | None = None) -> PollOutcome | None:
    """Poll one key; None when it was already polled since `dispatched_at` (a redelivery)."""
    key = ChargebackStopKey.objects.get(pk=key_id)
    if polled_since(key, dispatched_at):
        return None
    # One deadline for the whole listing, every page and retry included; the overlap lock is
    # renewed meanwhile, so it cannot expire.
    fetched = fetch(key, lambda deadline: ChargebackStopClient(key.secret, deadline=deadline).list_integrations())
    if fetched.answer is None:
        return fetched.failed
    listing, started, duration = fetched.answer, fetched.started, fetched.duration_ms
    first_observation = key.last_success_at is None
    with write_transaction():
        changes = record_success(
            key,
            started=started,
            duration_ms=duration,
            requests=listing.pages,
            incomplete="" if listing.complete else listing.note or "the listing was incomplete",
        )
        store_snapshot(key, snapshot_payload(listing), now=started)
        organisations = learn_organisations(key, listing, now=started)
        changes += apply_integrations(key, listing, organisations, now=started, first_observation=first_observation)
        touched = {org.pk for org in organisations.values()}
        touched |= set(Integration.objects.filter(seen_by=key).values_list("organisation_id", flat=True).distinct())
        refresh_known_merchants(touched)
        key.save(update_fields=[*SOURCE_FIELDS, "snapshot_digest"])
    return PollOutcome(str(key), ok=True, changes=changes)


def snapshot_payload(listing: Listing) -> dict[str, object]:
    items = sorted((item.as_snapshot() for item in listing.integrations), key=lambda item: str(item["id"]))
    return {"count": listing.count, "complete": listing.complete, "items": items}


def learn_organisations(key: ChargebackStopKey, listing: Listing, *, now: datetime) -> dict[str, Organisation]:
    """The organisations the listing names, created when new, and that this key reaches them."""
    seen = {item.organisation_id for item in listing.integrations}
    Organisation.objects.bulk_create([Organisation(organisation_id=org_id) for org_id in seen], ignore_conflicts=True)
    organisations = {org.organisation_id: org for org in Organisation.objects.filter(organisation_id__in=seen)}
    KeyOrganisation.objects.bulk_create(
        [KeyOrganisation(key=key, organisation=org) for org in organisations.values()], ignore_conflicts=True
    )
    KeyOrganisation.objects.filter(key=key, organisation__in=organisations.values()).update(last_seen_at=now)
    return organisations


def refresh_known_merchants(organisation_pks: set[int]) -> None:
    """An organisation's known merchant IDs are those its current (not gone) integrations list, the
    first CHARGEBACKSTOP_MAX_ORGANISATION_MERCHANT_IDS of them sorted: recomputed, so they follow
    what is true now instead of only ever growing."""
    current: dict[int, set[str]] = {pk: set() for pk in organisation_pks}
    rows = Integration.objects.filter(organisation__in=organisation_pks).exclude(status=GONE).order_by()
    for organisation_pk, merchant_ids in rows.values_list("organisation_id", "merchant_ids"):
        current[organisation_pk].update(merchant_ids)
    cap = settings.CHARGEBACKSTOP_MAX_ORGANISATION_MERCHANT_IDS
    for organisation in Organisation.objects.filter(pk__in=organisation_pks).only("pk", "merchant_ids"):
        known = sorted(current[organisation.pk])[:cap]
        if known != organisation.merchant_ids:
            organisation.merchant_ids = known
            organisation.save(update_fields=["merchant_ids"])


def apply_integrations(
    key: ChargebackStopKey,
    listing: Listing,
    organisations: dict[str, Organisation],
    *,
    now: datetime,
    first_observation: bool,
) -> list[StatusChange]:
    listed = {item.id: item for item in listing.integrations}
    known = {
        row.integration_id: row
        for row in Integration.objects.filter(Q(integration_id__in=listed) | (Q(seen_by=key) & ~Q(status=GONE)))
        .select_related("organisation")
        .order_by()
    }
    changes: list[StatusChange] = []
    appeared = []
    for remote in listing.integrations:
        row = known.get(remote.id)
        if row is None:
            appeared.append(_new_row(remote, key, organisations[remote.organisation_id], now))
        elif not _changed_here_after(row, now):
            changes += _apply_one(row, remote, key, organisations, now)
    if appeared:
        # An overlapping poll may have inserted some first: only the rows this poll inserted
        # (first seen at its `now`) get an "appeared" change.
        Integration.objects.bulk_create(appeared, ignore_conflicts=True)
        if not first_observation:
            changes += record(
                *(
                    change(
                        ChangeKind.INTEGRATION_APPEARED,
                        Severity.INFO,
                        at=now,
                        new=row.status,
                        reason=f"first seen by key {key}",
                        integration=row,
                        organisation=row.organisation,
                        key=key,
                    )
                    for row in Integration.objects.filter(
                        integration_id__in=[row.integration_id for row in appeared], first_seen_at=now
                    ).select_related("organisation")
                )
            )
    Integration.objects.filter(integration_id__in=listed).update(last_seen_at=now, seen_by=key)
    if listing.complete:
        for row in known.values():
            if row.integration_id not in listed and row.seen_by_id == key.pk and not _changed_here_after(row, now):
                changes += _mark_gone(row, key, now)
    return changes


def _changed_here_after(row: Integration, poll_started: datetime) -> bool:
    """A change made in the dashboard after this poll's listing was read wins over the listing."""
    return row.changed_here_at is not None and row.changed_here_at >= poll_started


def _new_row(remote: Remote, key: ChargebackStopKey, organisation: Organisation, now: datetime) -> Integration:
    return Integration(
        integration_id=remote.id,
        organisation=organisation,
        seen_by=key,
        name=remote.name,
        type=remote.type,
        status=remote.status,
        merchant_ids=list(remote.merchant_ids),
        since=now,
        first_seen_at=now,
        last_seen_at=now,
    )


def integration_subject(integration: Integration, key: ChargebackStopKey) -> Subject:
    links = {"integration": integration, "organisation": integration.organisation, "key": key}
    return Subject(integration, ChangeKind.INTEGRATION_STATUS, "status", links, identity={"integration": integration})


def _apply_one(
    row: Integration, remote: Remote, key: ChargebackStopKey, organisations: dict[str, Organisation], now: datetime
) -> list[StatusChange]:
    changes: list[StatusChange] = []
    subject = integration_subject(row, key)
    old_name = row.name
    if remote.name != old_name and claim(row, {"name": old_name}, {"name": remote.name}):
        changes.append(
            record_change(
                ChangeKind.INTEGRATION_NAME,
                Severity.INFO,
                at=now,
                old=old_name,
                new=remote.name,
                reason=f"renamed {OUTSIDE}",
                outside_dashboard=True,
                **subject.links,
            )
        )
    status = remote.status
    if status != row.status:
        changes += record_transition(
            subject,
            to=status,
            old=row.status,
            new=status,
            bad=_badness(row.status, status),
            reason=f"{status.lower()} {OUTSIDE}",
            now=now,
            outside_dashboard=True,
        )
    elif row.flapping_since is not None and (
        settled := settle_flapping(subject, current=status, bad=status != ENABLED, now=now)
    ):
        changes.append(settled)
    row.type = remote.type
    row.merchant_ids = list(remote.merchant_ids)
    row.organisation = organisations[remote.organisation_id]
    # Name, status and flags were written by their compare-and-set above, never from this copy.
    row.save(update_fields=["type", "merchant_ids", "organisation"])
    return changes


def _badness(old: str, new: str) -> bool | None:
    if new == ENABLED:
        return False
    if old == ENABLED:
        return True
    return None


def _mark_gone(row: Integration, key: ChargebackStopKey, now: datetime) -> list[StatusChange]:
    return record_transition(
        integration_subject(row, key),
        to=GONE,
        old=row.status,
        new=GONE,
        bad=_badness(row.status, GONE),
        reason=f"missing from a complete listing by key {key}",
        now=now,
        outside_dashboard=True,
    )
