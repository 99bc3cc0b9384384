from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from django.core.validators import RegexValidator
from django.db import connection, models, transaction
from django.db.models import F, Max, Q, Subquery
from django.db.models.functions import Lower
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from integrations_app.datafast.client import OBJECT_ID, PROVIDERS
from integrations_app.models.problem import Facts
from integrations_app.models.secret_field import EncryptedSecretField
from integrations_app.models.sources import HasSecret, PolledSource

object_id_validator = RegexValidator(OBJECT_ID.pattern, "A website ID is 24 hexadecimal characters (an ObjectId).")
dft_token_validator = RegexValidator(r"^dft_\S+$", "A DataFast token starts with dft_ and has no spaces.")


class Discovery(models.TextChoices):
    """What the last discovery (GET /api/v1/admin/websites) of an account's token gave."""

    NEVER = "", "Not run yet"
    OK = "ok", "Websites listed"
    NO_PERMISSION = "no_permission", "The token lacks websites:read"
    REFUSED = "refused", "The token was refused"
    FAILED = "failed", "DataFast did not answer properly"


# What an account's count of new websites depends on besides the watched websites.
NEW_WEBSITES_COUNT_INPUTS = frozenset({"listed_website_ids", "ignored_website_ids"})


class DataFastAccount(HasSecret):
    """A DataFast account token (`dft_…`, scope `settings:read`); one token serves many websites."""

    name = models.CharField(max_length=100, unique=True)
    secret = EncryptedSecretField("token")
    created_at = models.DateTimeField(auto_now_add=True)
    # Discovery: never a poll, never a poll failure (datafast/discovery.py).
    discovery = models.CharField(max_length=16, choices=Discovery.choices, blank=True, default="", editable=False)
    discovery_message = models.CharField(max_length=300, blank=True, editable=False)
    discovered_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The websites the last successful discovery listed: [{"id", "domain", "name", "timezone", ...}].
    listed_websites = models.JSONField(default=list, blank=True, editable=False)
    # Their IDs, in the same order (`set_listing` writes both): what every overview's notices read.
    # Decoding the whole listings was most of their time (137 ms at 50,000 websites).
    listed_website_ids = models.JSONField(default=list, blank=True, editable=False)
    # Listed websites the operator chose not to watch: no longer flagged as new.
    ignored_website_ids = models.JSONField(default=list, blank=True, editable=False)
    # The operator saw the websites no longer listed up to then ("Keep them"): the notice names only
    # websites unlisted later. The websites themselves still say "no longer listed".
    unlisted_seen_at = models.DateTimeField(null=True, blank=True, editable=False)
    alert_on_discovery = models.BooleanField(
        "Alert when a watched website is no longer listed",
        default=False,
        help_text=(
            "Off: websites no longer listed are notices on the pages only. On: an alert too (and when one is "
            "listed again). New websites are always notices."
        ),
    )

    # The notice's count of new websites, kept so that an overview reads it instead of every listed
    # and every watched ID (90 ms of each overview at 50,000 websites). It is right while both
    # versions it was counted at are current: `new_websites_version` is `notices_version`, which
    # `save` bumps when this account's listing or set-aside websites change, and
    # `new_websites_watch_version` is `WatchedWebsites.version`, which any website watched or no
    # longer watched, by any account, bumps (`websites_changed`). `discovery.with_notices` counts
    # again otherwise.
    new_websites = models.PositiveIntegerField(default=0, editable=False)
    new_websites_version = models.BigIntegerField(default=-1, editable=False)
    new_websites_watch_version = models.BigIntegerField(default=-1, editable=False)
    notices_version = models.BigIntegerField(default=0, editable=False)

    def set_listing(self, websites: list[dict[str, Any]]) -> None:
        """The listing discovery stores (`Website.as_dict()` each), with its IDs beside it."""
        self.listed_websites = websites
        self.listed_website_ids = [website["id"] for website in websites]

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            update_fields = kwargs["update_fields"] = list(update_fields)  # read twice below
        inputs_change = update_fields is None or NEW_WEBSITES_COUNT_INPUTS.intersection(update_fields)
        lock_watched_websites()  # before this row: see `lock_watched_websites`
        # Only an UPDATE takes an expression: a new row starts at the field's default.
        if inputs_change and not self._state.adding and not kwargs.get("force_insert"):
            # In the database, not from this instance's copy: another change may have bumped it since.
            self.notices_version = F("notices_version") + 1
            if update_fields is not None:
                update_fields.append("notices_version")
        try:
            super().save(*args, **kwargs)
        finally:
            if not isinstance(self.__dict__.get("notices_version"), int):
                self.__dict__.pop("notices_version", None)  # an expression, not a value: read again if asked for

    class Meta:
        ordering = ["name"]
        verbose_name = "DataFast account"
        # Names compare ignoring case, as the forms and a configuration file do (and Project).
        constraints = [models.UniqueConstraint(Lower("name"), name="dfa_name_unique_ci")]

    def __str__(self) -> str:
        return self.name


class DataFastSite(PolledSource):
    account = models.ForeignKey(DataFastAccount, on_delete=models.CASCADE, related_name="sites")
    project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="sites"
    )
    name = models.CharField(max_length=100)
    website_id = models.CharField(
        "website ID",
        max_length=24,
        unique=True,
        validators=[object_id_validator],
        help_text="The ObjectId in DataFast.",
    )
    currency = models.CharField(max_length=3, blank=True)
    # What discovery (GET /api/v1/admin/websites) says of it; empty until a discovery lists it.
    domain = models.CharField(max_length=253, blank=True)
    timezone = models.CharField("DataFast timezone", max_length=64, blank=True)
    role = models.CharField(max_length=8, blank=True, help_text="The token's role on it: owner, member or viewer.")
    tracking_id = models.CharField("tracking ID", max_length=64, blank=True)
    # The operator named it: discovery no longer overwrites `name`.
    name_is_custom = models.BooleanField(default=False)
    # The account's token no longer lists it (since then); shown, never deleted.
    unlisted_since = models.DateTimeField(null=True, blank=True, editable=False)
    paddle_key_expires_at = models.DateTimeField(null=True, blank=True)
    # none / ok / expiring / expired; alerts fire on the way into expiring and expired.
    paddle_expiry_state = models.CharField(max_length=10, default="none", editable=False)
    # A provider is disconnected now and people heard of it (an open alert, or flapping); kept by
    # polling so the problem state (integrations_app/problems.py) needs no look at provider rows.
    has_disconnect = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "DataFast website"
        indexes = [
            models.Index(fields=["enabled", "next_poll_at"], name="site_due_idx"),
            # The overview and the admin list websites by name, a page at a time.
            models.Index(fields=["name", "id"], name="site_name_idx"),
            # The overview's default order: problems first, then by name ignoring case.
            models.Index(F("problem_rank"), Lower("name"), F("id"), name="site_problem_idx"),
            # The overview's discovery notices count the websites no longer listed, a few among
            # thousands: without it that count read every website row (2.5 ms at 5,000).
            models.Index(fields=["account"], condition=Q(unlisted_since__isnull=False), name="site_unlisted_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("site-detail", args=[self.pk])

    def problem_facts(self) -> Facts:
        return replace(
            super().problem_facts(),
            disconnected=self.has_disconnect,
            paddle_watched=self.paddle_expiry_state != "none",
            paddle_expires_at=self.paddle_key_expires_at,
        )


class ProviderState(models.Model):
    """Current state of one payment provider on one website."""

    site = models.ForeignKey(DataFastSite, on_delete=models.CASCADE, related_name="providers")
    provider = models.CharField(max_length=16, choices=list(PROVIDERS.items()))
    connected = models.BooleanField()
    since = models.DateTimeField(default=timezone.now)
    alert_open = models.BooleanField(default=False)
    flapping_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["site", "provider"], name="one_state_per_site_provider")]
        # "Has an open disconnect" (overview counts and filter): one probe per website, few entries.
        indexes = [models.Index(fields=["site"], condition=Q(alert_open=True), name="provider_open_idx")]

    def __str__(self) -> str:
        return f"{self.site} {self.get_provider_display()}: {'connected' if self.connected else 'not connected'}"


class WatchedWebsites(models.Model):
    """One row, whose version every transaction that watches a website or stops watching one bumps
    once: the counts of new websites taken at an older version are taken again. One row rather than
    a bump of every account's: that UPDATE held every account row until its transaction ended, and
    two staff edits (each saving its account, then watching a website) deadlocked on them."""

    ROW = 1
    version = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = "watched websites' version"

    def __str__(self) -> str:
        return f"version {self.version}"


def watched_websites_version() -> Subquery:
    """The current version, as a subquery: read in the same statement (the same snapshot) as the
    accounts whose counts it validates. No row (a flushed test database) reads as None: nothing is
    counted, nothing kept, until a website change makes the row again."""
    return Subquery(WatchedWebsites.objects.filter(pk=WatchedWebsites.ROW).values("version"))


def _bump_watched_websites() -> None:
    if not WatchedWebsites.objects.filter(pk=WatchedWebsites.ROW).update(version=F("version") + 1):
        # The migration's row is gone (a test database flushed): made again past every version a
        # count was kept at, so none of those counts reads as current. Whoever else makes it too.
        kept = DataFastAccount.objects.aggregate(highest=Max("new_websites_watch_version"))["highest"]
        again = WatchedWebsites(pk=WatchedWebsites.ROW, version=max(kept or 0, 0))
        WatchedWebsites.objects.bulk_create([again], ignore_conflicts=True)
        WatchedWebsites.objects.filter(pk=WatchedWebsites.ROW).update(version=F("version") + 1)


def lock_watched_websites() -> None:
    """Within a transaction, take the row `websites_changed` bumps before any website's or
    account's row: every transaction then takes them in one order (the version, the websites, the
    accounts), and none deadlocks. Without it, a discovery (a website's row, then the version as
    it saves the account) and an import (the version as it saves the account, then that website)
    each waited for the other. Waits for a transaction that is changing websites, as its own bump
    would. Once per transaction; nothing to order outside one, nor on SQLite, whose transactions
    write one at a time."""
    if not connection.in_atomic_block or not connection.features.has_select_for_update:
        return
    if _pending(_watched_websites_held, _websites_changed_marker):
        return
    rows = WatchedWebsites.objects.select_for_update().filter(pk=WatchedWebsites.ROW)
    if not list(rows.values_list("pk", flat=True)):
        _bump_watched_websites()  # makes the row, and holds it until the transaction ends
    transaction.on_commit(_watched_websites_held)


def websites_changed() -> None:
    """A website was watched or no longer watched (or took another ID): any account's listing may
    name it, so every count of new websites is to be taken again. Once per transaction: deleting an
    account deletes its thousands of websites, one signal each."""
    if not websites_changed_in_this_transaction():
        _bump_watched_websites()
        transaction.on_commit(_websites_changed_marker)


def websites_changed_in_this_transaction() -> bool:
    """Whether this transaction has bumped the version and not committed yet: the marker is still
    pending. Django drops a pending callback with the savepoint or transaction rolled back, and the
    bump with it. Outside a transaction, on_commit runs the marker at once: never pending."""
    return _pending(_websites_changed_marker)


def _pending(*markers: Callable[[], None]) -> bool:
    pending = transaction.get_connection().run_on_commit
    return any(callback in markers for _, callback, _ in pending)


def _websites_changed_marker() -> None:
    """Nothing to do after the commit: its being pending is the mark."""


def _watched_websites_held() -> None:
    """Nothing to do after the commit: this transaction holds the version's row (a lock taken in a
    savepoint goes with it when it rolls back, as this marker does)."""


@receiver(pre_save, sender=DataFastSite)
def _site_saving(sender: type[DataFastSite], instance: DataFastSite, **kwargs: Any) -> None:
    if _changes_what_is_watched(instance, kwargs.get("update_fields")):
        lock_watched_websites()  # before the website's row


@receiver(pre_delete, sender=DataFastSite)
def _site_deleting(sender: type[DataFastSite], instance: DataFastSite, **kwargs: Any) -> None:
    lock_watched_websites()  # before the website's row (and, deleting an account, before its row)


def _changes_what_is_watched(site: DataFastSite, update_fields: Iterable[str] | None) -> bool:
    """A new website, a whole save (the form's, the import's: it may change the ID) or a new ID."""
    return site._state.adding or update_fields is None or "website_id" in update_fields


@receiver(post_save, sender=DataFastSite)
def _site_saved(sender: type[DataFastSite], instance: DataFastSite, created: bool, **kwargs: Any) -> None:
    if created or _changes_what_is_watched(instance, kwargs.get("update_fields")):
        websites_changed()


@receiver(post_delete, sender=DataFastSite)
def _site_deleted(sender: type[DataFastSite], instance: DataFastSite, **kwargs: Any) -> None:
    websites_changed()
