"""What every polled source (a DataFast website, a ChargebackStop key) has in common."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations_app.models.secret_field import UNREADABLE, StoredSecret
from integrations_app.upstream.secret import Secret, mask


class Health(models.TextChoices):
    PENDING = "pending", "Not polled yet"
    OK = "ok", "OK"
    CREDENTIAL_REJECTED = "credential_rejected", "Credential rejected"
    NOT_FOUND = "not_found", "Not found"
    FAILING = "failing", "Failing to poll"


class HasSecret(models.Model):
    """A model with an encrypted secret and a hint (`••••abcd`) that pages show without decrypting."""

    secret_hint = models.CharField(max_length=16, editable=False, default="")

    class Meta:
        abstract = True

    SECRET_FIELD = "secret"  # noqa: S105 (a field name, not a password)

    def set_secret(self, value: str) -> None:
        setattr(self, self.SECRET_FIELD, Secret(value))
        self.secret_hint = mask(value)

    @property
    def secret_display(self) -> str:
        """The hint, or why the secret cannot be used: checked with the keys, never decrypted."""
        stored = getattr(self, self.SECRET_FIELD)
        if isinstance(stored, StoredSecret) and not stored.readable:
            return UNREADABLE
        return self.secret_hint


class PolledSource(models.Model):
    """Scheduling and health of one thing we poll. Health is the last authoritative verdict;
    staleness is derived from `last_success_at`, so a poll error never rewrites what we know."""

    enabled = models.BooleanField(default=True)
    poll_interval_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave empty for the default (POLL_INTERVAL_SECONDS)."
    )
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # last_success_at + 2 intervals, kept up to date so pages can filter stale sources in SQL.
    stale_after = models.DateTimeField(null=True, blank=True, editable=False)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error_kind = models.CharField(max_length=32, blank=True)
    last_error_message = models.CharField(max_length=300, blank=True)
    last_error_status = models.PositiveSmallIntegerField(null=True, blank=True)
    health = models.CharField(max_length=24, choices=Health.choices, default=Health.PENDING)
    health_since = models.DateTimeField(default=timezone.now)
    health_alert_open = models.BooleanField(default=False, editable=False)
    # Fingerprint of the latest snapshot: an unchanged answer then costs no query.
    snapshot_digest = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.poll_interval_seconds or settings.POLL_INTERVAL_SECONDS)

    def is_stale(self, now: datetime | None = None) -> bool:
        """Stale: no good answer for more than two intervals."""
        return self.stale_after is not None and self.stale_after < (now or timezone.now())

    @property
    def has_problem(self) -> bool:
        return self.health in (Health.CREDENTIAL_REJECTED, Health.NOT_FOUND, Health.FAILING)
