"""Discovering a ChargebackStop partner key's organisations and merchants, by name.

`GET /v1/organisations` and `GET /v1/merchants` answer partner-level keys only; organisation-level
keys get 401. That answer is learnt once and remembered on the key (`partner_access`): the key is
not asked again until its secret or level changes, and it is never an alert, nor a poll failure.

Every listed organisation gets a row (with its name and mode), linked to the key, whether or not it
has an integration yet; merchants get their names and types for the pickers and pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations_app.chargebackstop.client import ChargebackStopClient, Merchant, Organisation, Paged
from integrations_app.chargebackstop.models import (
    ChargebackStopKey,
    KeyOrganisation,
    PartnerAccess,
    refresh_organisation_problems,
)
from integrations_app.chargebackstop.models import Merchant as MerchantRow
from integrations_app.chargebackstop.models import Organisation as OrganisationRow
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.check import deadline, explain
from integrations_app.upstream.errors import CredentialError, UpstreamError

REFUSED = (
    "This key may not list organisations or merchants (ChargebackStop answers 401: those endpoints are for "
    "partner keys). Its organisation is learnt from its integrations; enter the ID of one without "
    "integrations by hand."
)
FORBIDDEN = "This partner key lacks the organisations:read ability: ChargebackStop refused the listing (403)."
NO_MERCHANTS = "It lacks merchants:read: merchants are shown by ID."


@dataclass
class Outcome:
    access: str
    message: str
    organisations: int = 0
    new: int = 0
    merchants: int = 0

    @property
    def ok(self) -> bool:
        return self.access == PartnerAccess.OK


def discover(key: ChargebackStopKey, *, quick: bool = False, now: datetime | None = None) -> Outcome:
    """List the key's organisations and merchants and store them. A key already refused is not
    asked again. Never raises for anything the upstream does."""
    now = now or timezone.now()
    if key.partner_access == PartnerAccess.REFUSED:
        return Outcome(key.partner_access, key.discovery_message)
    try:
        client = ChargebackStopClient(key.secret, deadline=deadline() if quick else None)
        organisations = client.list_organisations()
    except CredentialError as error:
        if error.status == 401:
            return _remember(key, PartnerAccess.REFUSED, REFUSED, now)
        return _remember(key, PartnerAccess.FORBIDDEN, FORBIDDEN, now)
    except (UpstreamError, SecretUnreadable) as error:
        # Not an answer about the key: what it was is kept, and the next discovery asks again.
        return _remember(key, key.partner_access, explain(error, what="ChargebackStop"), now)
    new = store_organisations(key, organisations, now=now)
    words = [f"{len(organisations.items)} organisation{'s' if len(organisations.items) != 1 else ''} listed"]
    words += list(organisations.problems)
    merchants = 0
    try:
        listing = client.list_merchants()
    except CredentialError:
        words.append(NO_MERCHANTS)
    except (UpstreamError, SecretUnreadable) as error:
        words.append("merchants: " + explain(error, what="ChargebackStop"))
    else:
        merchants = store_merchants(list(listing.items), now=now)
        words += [f"{merchants} merchant{'s' if merchants != 1 else ''}", *listing.problems]
    outcome = _remember(key, PartnerAccess.OK, "; ".join(words) + ".", now)
    outcome.organisations, outcome.new, outcome.merchants = len(organisations.items), new, merchants
    return outcome


def _remember(key: ChargebackStopKey, access: str, message: str, now: datetime) -> Outcome:
    # A queryset update: the key's poll fields (and its problem state) are not touched.
    key.partner_access, key.discovery_message, key.discovered_at = access, message[:300], now
    ChargebackStopKey.objects.filter(pk=key.pk).update(
        partner_access=access, discovery_message=key.discovery_message, discovered_at=now
    )
    return Outcome(access, key.discovery_message)


def store_organisations(key: ChargebackStopKey, listing: Paged[Organisation], *, now: datetime) -> int:
    """Rows for every listed organisation, named, linked to the key; returns how many are new. A
    complete listing also drops this key's listed links to organisations it no longer lists."""
    listed = {organisation.id: organisation for organisation in listing.items}
    with transaction.atomic():
        before = set(
            OrganisationRow.objects.filter(organisation_id__in=listed).values_list("organisation_id", flat=True)
        )
        OrganisationRow.objects.bulk_create(
            [OrganisationRow(organisation_id=org_id) for org_id in listed if org_id not in before],
            ignore_conflicts=True,
        )
        rows = list(OrganisationRow.objects.filter(organisation_id__in=listed))
        changed = []
        for row in rows:
            remote = listed[row.organisation_id]
            if (row.name, row.mode) != (remote.name, remote.mode):
                row.name, row.mode = remote.name, remote.mode
                changed.append(row)
        OrganisationRow.objects.bulk_update(changed, ["name", "mode"])
        KeyOrganisation.objects.bulk_create(
            [KeyOrganisation(key=key, organisation=row, source=KeyOrganisation.Source.LISTED) for row in rows],
            ignore_conflicts=True,
        )
        links = KeyOrganisation.objects.filter(key=key)
        links.filter(organisation__in=rows).update(last_seen_at=now)
        if listing.complete:
            links.filter(source=KeyOrganisation.Source.LISTED).exclude(organisation__in=rows).delete()
        refresh_organisation_problems([row.pk for row in rows])
    return len(set(listed) - before)


def store_merchants(merchants: list[Merchant], *, now: datetime) -> int:
    """Names and types of the merchants of known organisations; returns how many were stored."""
    organisations = dict(
        OrganisationRow.objects.filter(organisation_id__in={m.organisation_id for m in merchants}).values_list(
            "organisation_id", "pk"
        )
    )
    wanted = {m.id: m for m in merchants if m.organisation_id in organisations}
    with transaction.atomic():
        existing = {row.merchant_id: row for row in MerchantRow.objects.filter(merchant_id__in=wanted)}
        new, changed = [], []
        for merchant_id, remote in wanted.items():
            values = {
                "organisation_id": organisations[remote.organisation_id],
                "name": remote.name,
                "type": remote.type,
                "external_id": remote.external_id,
            }
            row = existing.get(merchant_id)
            if row is None:
                new.append(MerchantRow(merchant_id=merchant_id, seen_at=now, **values))
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.seen_at = now
                changed.append(row)
        MerchantRow.objects.bulk_create(new, ignore_conflicts=True)
        MerchantRow.objects.bulk_update(changed, ["organisation_id", "name", "type", "external_id", "seen_at"])
    return len(wanted)


def merchants_of(key: ChargebackStopKey, organisation_id: str) -> list[Merchant] | None:
    """The organisation's merchants as ChargebackStop lists them now (`organisation_id` filter), or
    None when the key may not ask or the API did not answer (the caller says less, not wrong)."""
    if key.partner_access == PartnerAccess.REFUSED:
        return None
    try:
        listing = ChargebackStopClient(key.secret, deadline=deadline()).list_merchants(organisation_id=organisation_id)
    except (UpstreamError, SecretUnreadable):
        return None
    merchants = list(listing.items)
    store_merchants(merchants, now=timezone.now())
    return merchants if listing.complete else None


def due(now: datetime) -> QuerySet[ChargebackStopKey]:
    """Enabled keys whose last discovery is older than DISCOVERY_INTERVAL_HOURS (or never ran), or
    that never got an answer and last asked DISCOVERY_RETRY_MINUTES ago; a key refused once (an
    organisation key) is never asked again."""
    since = now - timedelta(hours=settings.DISCOVERY_INTERVAL_HOURS)
    unanswered = Q(
        partner_access=PartnerAccess.UNKNOWN,
        discovered_at__lt=now - timedelta(minutes=settings.DISCOVERY_RETRY_MINUTES),
    )
    keys = ChargebackStopKey.objects.filter(enabled=True).exclude(partner_access=PartnerAccess.REFUSED)
    return keys.filter(Q(discovered_at__isnull=True) | Q(discovered_at__lt=since) | unanswered).order_by("pk")
