"""What every polled source (a DataFast website, a ChargebackStop key) has in common."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations_app.models.problem import RANK, Facts, Problem, derive
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
    # What is wrong with it (a position in problem.ORDER), derived on every save and again when
    # `problem_recheck_at` comes (beat), so pages filter, count and sort on one indexed column.
    problem_rank = models.PositiveSmallIntegerField(default=RANK[Problem.PENDING], editable=False)
    problem_recheck_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)

    class Meta:
        abstract = True

    def save(self, *args: Any, update_fields: Iterable[str] | None = None, **kwargs: Any) -> None:
        """Every save stores the problem with the facts it was derived from, in the same UPDATE."""
        self.derive_problem()
        if update_fields is not None:
            update_fields = {*update_fields, "problem_rank", "problem_recheck_at"}
        super().save(*args, update_fields=update_fields, **kwargs)

    def get_absolute_url(self) -> str:
        """The source's page; each source model has its own."""
        raise NotImplementedError

    def problem_facts(self) -> Facts:
        """What this source's problem depends on; each kind adds its own facts."""
        return Facts(health=self.health, enabled=self.enabled, stale_after=self.stale_after)

    def derive_problem(self, now: datetime | None = None) -> bool:
        """Set `problem_rank` and `problem_recheck_at` from the facts; True when either changed."""
        problem, recheck_at = derive(self.problem_facts(), now or timezone.now())
        changed = (self.problem_rank, self.problem_recheck_at) != (RANK[problem], recheck_at)
        self.problem_rank, self.problem_recheck_at = RANK[problem], recheck_at
        return changed

    @property
    def interval(self) -> timedelta:
        return timedelta(seconds=self.poll_interval_seconds or settings.POLL_INTERVAL_SECONDS)
