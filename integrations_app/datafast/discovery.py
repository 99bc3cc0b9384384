"""Discovering a DataFast token's websites (`GET /api/v1/admin/websites`).

Discovery is never a poll: its outcome is remembered on the account (`discovery`, in plain words
in `discovery_message`) and never touches a website's health. A token without `websites:read`
answers 403: the pages then say so and fall back to typing website IDs.

What it does with a listing:
- watched websites of the account take their name (unless the operator renamed them:
  `name_is_custom`), domain, timezone, role and tracking ID from it;
- websites it no longer lists get `unlisted_since` (shown, never deleted);
- listed websites nobody watches and the operator did not set aside are "new" (a notice).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Case, F, PositiveIntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from integrations_app.alerts import changes
from integrations_app.datafast.client import DataFastClient, Website
from integrations_app.datafast.models import (
    DataFastAccount,
    DataFastSite,
    Discovery,
    lock_watched_websites,
    watched_websites_version,
    websites_changed_in_this_transaction,
)
from integrations_app.models.history import ChangeKind, Severity, StatusChange
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.check import deadline, explain
from integrations_app.upstream.errors import CredentialError, UpstreamError

NO_PERMISSION = (
    "This token may not list its websites: it lacks DataFast's websites:read permission. "
    "Add websites by typing their IDs, or give the token websites:read in DataFast."
)
logger = logging.getLogger(__name__)
SITE_FIELDS = ["name", "domain", "timezone", "role", "tracking_id", "unlisted_since"]


@dataclass
class Outcome:
    """What one discovery found, for pages and the command."""

    state: str
    message: str
    websites: list[Website] = field(default_factory=list)
    new: list[Website] = field(default_factory=list)
    unlisted: list[DataFastSite] = field(default_factory=list)
    updated: int = 0

    @property
    def ok(self) -> bool:
        return self.state == Discovery.OK


def discover(account: DataFastAccount, *, now: datetime | None = None, quick: bool = False) -> Outcome:
    """Ask DataFast which websites the account's token reads, and apply the answer. `quick`: a
    web request or a command is waiting (the short "test connection" deadline). Never raises for
    anything the upstream does."""
    now = now or timezone.now()
    try:
        client = DataFastClient(account.secret, deadline=deadline() if quick else None)
        listing = client.list_websites()
    except CredentialError as error:
        if error.status == 403:
            return _remember(account, Discovery.NO_PERMISSION, NO_PERMISSION, now)
        return _remember(account, Discovery.REFUSED, explain(error, what="DataFast"), now)
    except (UpstreamError, SecretUnreadable) as error:
        return _remember(account, Discovery.FAILED, explain(error, what="DataFast"), now)
    websites = list(listing.websites)
    count = f"{len(websites)} website{'s' if len(websites) != 1 else ''}"
    message = f"The token lists {count}." + (f" {' '.join(listing.problems)}." if listing.problems else "")
    with transaction.atomic():
        updated = apply(account, websites, now=now, complete=not listing.problems)
        account.set_listing([website.as_dict() for website in websites])
        _remember(account, Discovery.OK, message, now)
    outcome = summarise(account)
    outcome.updated = updated
    return outcome


def _remember(account: DataFastAccount, state: str, message: str, now: datetime) -> Outcome:
    account.discovery, account.discovery_message, account.discovered_at = state, message[:300], now
    fields = ["discovery", "discovery_message", "discovered_at"]
    listing = ["listed_websites", "listed_website_ids"]
    account.save(update_fields=[*fields, *listing] if state == Discovery.OK else fields)
    return Outcome(state, account.discovery_message)


def apply(account: DataFastAccount, websites: list[Website], *, now: datetime, complete: bool = True) -> int:
    """Bring the account's watched websites in line with a listing; returns how many changed.
    Only a `complete` listing (no entry skipped, none cut off) can say a website is no longer
    listed: from an incomplete one, the missing website may be the entry that could not be read."""
    lock_watched_websites()  # before the websites' rows: the account's save takes it next
    listed = {website.id: website for website in websites}
    changed: list[DataFastSite] = []
    moves: list[StatusChange] = []
    alerts = account.alert_on_discovery or settings.DISCOVERY_ALERTS
    for site in DataFastSite.objects.filter(account=account).select_related("account").order_by("pk"):
        before = [getattr(site, name) for name in SITE_FIELDS]
        was_listed = site.unlisted_since is None
        website = listed.get(site.website_id)
        if website is None:
            if complete:
                site.unlisted_since = site.unlisted_since or now
        else:
            copy_facts(site, website)
            site.unlisted_since = None
        if [getattr(site, name) for name in SITE_FIELDS] != before:
            changed.append(site)
        if alerts and was_listed != (site.unlisted_since is None):
            moves.append(_listing_change(site, listed=site.unlisted_since is None, now=now))
    # bulk_update: these are facts for the pages, not a poll (problem states do not depend on them).
    DataFastSite.objects.bulk_update(changed, SITE_FIELDS)
    if moves:
        changes.record(*moves)
    return len(changed)


def _listing_change(site: DataFastSite, *, listed: bool, now: datetime) -> StatusChange:
    """The alert of an account that asked for them: a watched website its token stopped listing
    (a notice: it is still polled, and may fail soon) or lists again."""
    return changes.change(
        ChangeKind.LISTING,
        Severity.RECOVERY if listed else Severity.NOTICE,
        at=now,
        old="unlisted" if listed else "listed",
        new="listed" if listed else "unlisted",
        reason=f"GET /api/v1/admin/websites of the token of {site.account.name}",
        notify=True,
        site=site,
    )


def copy_facts(site: DataFastSite, website: Website) -> None:
    if not site.name_is_custom:
        site.name = website.display_name[:100]
    site.domain, site.timezone = website.domain, website.timezone
    site.role, site.tracking_id = website.role, website.tracking_id


def listed(account: DataFastAccount) -> list[Website]:
    return [Website.from_dict(entry) for entry in account.listed_websites if isinstance(entry, dict)]


def summarise(account: DataFastAccount, watched_ids: set[str] | None = None) -> Outcome:
    """The last discovery of the account as it stands now (no request): new websites are listed ones
    nobody watches and the operator did not set aside."""
    websites = listed(account)
    if watched_ids is None:
        watched_ids = set(
            DataFastSite.objects.filter(website_id__in=[w.id for w in websites]).values_list("website_id", flat=True)
        )
    ignored = set(account.ignored_website_ids)
    new = [website for website in websites if website.id not in watched_ids and website.id not in ignored]
    unlisted = list(DataFastSite.objects.filter(account=account, unlisted_since__isnull=False).order_by("name"))
    return Outcome(account.discovery, account.discovery_message, websites, new, unlisted)


@dataclass(frozen=True)
class Row:
    """One listed website on the account's page: watched (its site), new, or set aside."""

    website: Website
    site: DataFastSite | None
    set_aside: bool

    @property
    def offered(self) -> bool:
        return self.site is None


def rows(account: DataFastAccount) -> list[Row]:
    """The last listing of the account, each website with what the dashboard does with it (one query)."""
    websites = listed(account)
    sites = {
        site.website_id: site
        for site in DataFastSite.objects.filter(website_id__in=[w.id for w in websites]).select_related("account")
    }
    ignored = set(account.ignored_website_ids)
    return [Row(website, sites.get(website.id), website.id in ignored) for website in websites]


def watch(account: DataFastAccount, website_ids: list[str], *, now: datetime | None = None) -> list[DataFastSite]:
    """Watch these listed websites (those not watched yet): a site each, due for its first poll
    now. The listed ones not chosen are set aside (no longer flagged as new)."""
    now = now or timezone.now()
    websites = {website.id: website for website in listed(account)}
    chosen = [websites[website_id] for website_id in dict.fromkeys(website_ids) if website_id in websites]
    with transaction.atomic():
        taken = set(DataFastSite.objects.filter(website_id__in=websites).values_list("website_id", flat=True))
        created = []
        for website in chosen:
            if website.id in taken:
                continue
            site = DataFastSite(account=account, website_id=website.id, next_poll_at=now)
            copy_facts(site, website)
            site.save()
            created.append(site)
        chosen_ids = {website.id for website in chosen}
        set_aside = sorted(set(account.ignored_website_ids) | (set(websites) - chosen_ids - taken))
        account.ignored_website_ids = [website_id for website_id in set_aside if website_id not in chosen_ids]
        account.save(update_fields=["ignored_website_ids"])
    return created


class NoticeAccount(NamedTuple):
    """What a notice shows of its account and links to: 200 model instances built for them were a
    third of the notices' time on the overview at 200 accounts."""

    pk: int
    name: str


class Notice(NamedTuple):
    """What an account's last discovery has to say until the operator handles it: websites new to
    its token (nobody watches them, nobody set them aside), and websites it no longer lists that
    the operator has not seen yet ("Keep them")."""

    account: NoticeAccount
    new: int
    unlisted: int

    @property
    def words(self) -> str:
        parts = []
        if self.new:
            parts.append(
                f"{self.new} new website{'s' if self.new != 1 else ''} on {self.account.name}'s token: watch them?"
            )
        if self.unlisted:
            verb = "is" if self.unlisted == 1 else "are"
            plural = "s" if self.unlisted != 1 else ""
            parts.append(f"{self.unlisted} website{plural} {verb} no longer listed by {self.account.name}'s token.")
        return " ".join(parts)


class _Account(NamedTuple):
    """What a notice is made of, read as plain values: the 200 model instances were half of the
    notices' time on every overview. An account with nothing to say never becomes one."""

    pk: int
    name: str
    new_websites: int
    new_websites_version: int
    new_websites_watch_version: int
    notices_version: int
    unlisted_seen_at: datetime | None
    watch_version: int | None  # `WatchedWebsites.version`, read with the row; None: no row

    @property
    def counted(self) -> bool:
        # No version row (None) never equals a kept version: not counted.
        return (
            self.new_websites_version == self.notices_version and self.new_websites_watch_version == self.watch_version
        )


def _read(accounts: QuerySet[DataFastAccount]) -> list[_Account]:
    """The accounts as notices read them, with the watched websites' version (one query)."""
    with_version = accounts.annotate(watch_version=watched_websites_version())
    return [_Account._make(row) for row in with_version.order_by("name").values_list(*_Account._fields)]


# Past this many listed websites, reading every watched ID is cheaper than asking for these: at
# 50,000, `website_id IN (…50,000 parameters…)` took 0.5 s to run on PostgreSQL, and Django as long
# to build, where one column of the whole table reads in a few tens of milliseconds.
LISTED_ASKED_BY_ID = 1_000


def _watched_among(website_ids: set[Any]) -> set[Any]:
    """Which of `website_ids` a website row watches (one query; none for no IDs)."""
    rows = DataFastSite.objects.values_list("website_id", flat=True).order_by()
    if len(website_ids) <= LISTED_ASKED_BY_ID:
        return set(rows.filter(website_id__in=website_ids))
    return website_ids.intersection(rows)


def _count_new(accounts: list[_Account]) -> dict[int, int]:
    """Count the new websites of these accounts again and keep the counts (three queries)."""
    listings = DataFastAccount.objects.filter(pk__in=[account.pk for account in accounts]).values_list(
        "pk", "listed_website_ids", "ignored_website_ids"
    )
    listed_and_ignored = {pk: (listed, set(ignored)) for pk, listed, ignored in listings}
    watched = _watched_among({website_id for listed, _ in listed_and_ignored.values() for website_id in listed})
    counts = {
        pk: sum(1 for website_id in listed if website_id not in watched and website_id not in ignored)
        for pk, (listed, ignored) in listed_and_ignored.items()
    }
    # Within a transaction that changed websites, a count could change again before it commits,
    # without another bump (one a transaction): shown, not kept.
    kept = [account for account in accounts if account.pk in counts and account.watch_version is not None]
    if kept and not websites_changed_in_this_transaction():
        _keep(counts, kept)
    return counts


def _keep(counts: dict[int, int], accounts: list[_Account]) -> None:
    """Keep the counts, each with the versions read before it was taken: a listing saved or a
    website watched since then (or still uncommitted then) has moved one of them on, and the next
    page counts again. The versions were read before the count, so a kept count is never newer
    than they say, only perhaps older: the cost is a count taken again, never a wrong one."""
    unchanged = Q()
    for account in accounts:
        unchanged |= Q(pk=account.pk, notices_version=account.notices_version)
    try:
        with transaction.atomic():
            # A page never waits: a row another transaction holds (a staff edit, a discovery) is
            # left to a later page. NO KEY: a website being added to the account holds its key.
            free = DataFastAccount.objects.filter(unchanged).select_for_update(skip_locked=True, no_key=True)
            DataFastAccount.objects.filter(pk__in=free.values("pk")).update(
                new_websites=Case(
                    *(When(pk=pk, then=Value(count)) for pk, count in counts.items()),
                    default=F("new_websites"),
                    output_field=PositiveIntegerField(),
                ),
                new_websites_version=F("notices_version"),
                new_websites_watch_version=Value(accounts[0].watch_version),
            )
    except DatabaseError:
        # A page reads: a database too busy for this write (SQLite's lock) leaves the counting
        # to the next page, and this one still shows the counts.
        logger.warning("The counts of new websites could not be kept.", exc_info=True)


def with_notices(accounts: QuerySet[DataFastAccount]) -> list[Notice]:
    """A notice for every account with something to say: two queries whatever the number of
    accounts and websites, three more when a count of new websites is to be taken again."""
    rows = _read(accounts)
    recounted = _count_new([row for row in rows if not row.counted])  # no query when all are counted
    seen = {row.pk: row.unlisted_seen_at for row in rows}
    unlisted: dict[int, int] = {}
    # The accounts as a subquery, not their keys as 200 parameters (1 ms of each overview at 200
    # accounts); an account created since `rows` was read has no notice on this page.
    gone = DataFastSite.objects.filter(account__in=accounts.values("pk"), unlisted_since__isnull=False)
    for account_id, since in gone.values_list("account_id", "unlisted_since").order_by():  # counted: no order
        if account_id not in seen:
            continue
        last_seen = seen[account_id]
        if since is not None and (last_seen is None or since > last_seen):
            unlisted[account_id] = unlisted.get(account_id, 0) + 1
    notices = []
    for row in rows:
        new = recounted.get(row.pk, row.new_websites)
        if new or unlisted.get(row.pk):
            notices.append(Notice(NoticeAccount(row.pk, row.name), new, unlisted.get(row.pk, 0)))
    return notices


def watch_new(account: DataFastAccount, *, now: datetime | None = None) -> list[DataFastSite]:
    """The notice's "Watch them": every website new to the token, due for its first poll now."""
    return watch(account, [website.id for website in summarise(account).new], now=now)


def set_aside_new(account: DataFastAccount) -> int:
    """The notice's "Not these": the new websites are set aside (offered, unticked, on the account's
    page; no longer a notice). Returns how many."""
    new = [website.id for website in summarise(account).new]
    account.ignored_website_ids = sorted(set(account.ignored_website_ids) | set(new))
    account.save(update_fields=["ignored_website_ids"])
    return len(new)


def keep_unlisted(account: DataFastAccount, *, now: datetime | None = None) -> None:
    """The notice's "Keep them": the websites no longer listed stay watched and say so on their
    pages; the notice is gone until another one stops being listed."""
    account.unlisted_seen_at = now or timezone.now()
    account.save(update_fields=["unlisted_seen_at"])


def due(now: datetime) -> QuerySet[DataFastAccount]:
    """Accounts whose last discovery is older than DISCOVERY_INTERVAL_HOURS (or never ran), or got
    no answer DISCOVERY_RETRY_MINUTES ago. A token without websites:read is asked again daily: its
    permissions may have changed."""
    since = now - timedelta(hours=settings.DISCOVERY_INTERVAL_HOURS)
    failed = Q(discovery=Discovery.FAILED, discovered_at__lt=now - timedelta(minutes=settings.DISCOVERY_RETRY_MINUTES))
    return DataFastAccount.objects.filter(Q(discovered_at__isnull=True) | Q(discovered_at__lt=since) | failed).order_by(
        "pk"
    )
