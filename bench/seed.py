"""Register the sandbox's generated credentials in the bench database, as `load_demo` does for the
demo: one DataFastAccount per token (secret via `set_secret`), its websites, the organisations with
their labels, and one partner-level ChargebackStopKey per partner key. Bulk inserts, one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from integrations_app.chargebackstop.models import PartnerAccess
from integrations_app.datafast.client import PROVIDERS, parse_websites
from integrations_app.datafast.models import Discovery
from integrations_app.models import (
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Health,
    Organisation,
    ProviderState,
)
from integrations_app.polling.bulk import insert_many, save_many
from integrations_app.polling.snapshots import digest
from sandbox.world import Website as SandboxWebsite

BATCH = 500


@dataclass(frozen=True)
class Registered:
    sites: int
    accounts: int
    keys: int
    organisations: int


@transaction.atomic
def _listing(websites: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A token's listing as discovery stores it (`DataFastAccount.listed_websites`): the sandbox's
    answer for these websites, read by the product's parser. Every overview reads it for its
    notices, so a bench without it measured an overview no discovered account has."""
    payload = {"status": "success", "data": [SandboxWebsite(**website).as_listed("owner") for website in websites]}
    return [website.as_dict() for website in parse_websites(payload).websites]


def register(scenario: dict[str, Any], *, next_poll_at: datetime, site_limit: int | None = None) -> Registered:
    """`site_limit` registers only the first N websites (in token order), for smaller databases."""
    names = {website["id"]: website["name"] for website in scenario["datafast"]["websites"]}
    # Discovered as the daily discovery leaves them (every website and organisation registered
    # here is one the credential lists): the bench measures polling, and a discovery due in the
    # middle of a measured cycle would add its listings to the poll's CPU and requests.
    discovered = timezone.now()
    listed = {website["id"]: website for website in scenario["datafast"]["websites"]}
    accounts = []
    for token in scenario["datafast"]["tokens"]:
        account = DataFastAccount(name=token["label"], discovery=Discovery.OK, discovered_at=discovered)
        account.set_listing(_listing([listed[website_id] for website_id in token["websites"]]))
        account.set_secret(token["token"])
        accounts.append(account)
    DataFastAccount.objects.bulk_create(accounts)
    sites = [
        DataFastSite(account=account, name=names[website_id], website_id=website_id, next_poll_at=next_poll_at)
        for account, token in zip(accounts, scenario["datafast"]["tokens"], strict=True)
        for website_id in token["websites"]
    ]
    sites.sort(key=lambda site: int(site.website_id[8:], 16))  # the scenario's order: site 1, 2, 3...
    DataFastSite.objects.bulk_create(sites[:site_limit], batch_size=BATCH)
    cbs = scenario["chargebackstop"]
    Organisation.objects.bulk_create(
        [Organisation(organisation_id=org["id"], label=org["label"]) for org in cbs["organisations"]], batch_size=BATCH
    )
    keys = []
    for entry in cbs["keys"]:
        key = ChargebackStopKey(
            name=entry["label"],
            level=entry["level"],
            next_poll_at=next_poll_at,
            partner_access=PartnerAccess.OK if entry["level"] == "partner" else PartnerAccess.REFUSED,
            discovered_at=discovered,
        )
        key.set_secret(entry["key"])
        keys.append(key)
    ChargebackStopKey.objects.bulk_create(keys)
    return Registered(
        sites=len(sites[:site_limit]), accounts=len(accounts), keys=len(keys), organisations=len(cbs["organisations"])
    )


WARM_FIELDS = ["health", "health_since", "last_polled_at", "last_success_at", "stale_after", "currency"]
WARM_FIELDS += ["snapshot_digest", "problem_rank", "problem_recheck_at"]


@transaction.atomic
def warm(scenario: dict[str, Any]) -> int:
    """Leave every website as a first poll of the scenario would (its providers, healthy, its answer's
    digest), so that a `--scale` run's first cycle is already a steady one: at 50,000 websites the
    cold cycle (every row new, through the change recorder) takes longer than the run may. Written
    with the bulk helpers; returns the websites warmed."""
    now = timezone.now()
    answers = {website["id"]: website for website in scenario["datafast"]["websites"]}
    sites = list(DataFastSite.objects.all())
    states = []
    for site in sites:
        website = answers[site.website_id]
        connected = {provider: provider in website["connected"] for provider in PROVIDERS}
        states += [(site.pk, provider, up, now, False) for provider, up in connected.items()]
        site.health, site.health_since = Health.OK, now
        site.last_polled_at = site.last_success_at = now
        site.stale_after = now + 2 * site.interval
        site.currency = website["currency"].upper()
        snapshot = {"connected": connected, "paddle_key_expires_at": None, "currency": site.currency}
        site.snapshot_digest = digest(snapshot)
        site.derive_problem(now)
    insert_many(ProviderState, ["site", "provider", "connected", "since", "alert_open"], states)
    save_many(sites, WARM_FIELDS)
    return len(sites)


def superuser() -> Any:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True, "email": "bench@example.com"}
    )
    return user
