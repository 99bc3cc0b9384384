"""What happened: every poll attempt, the distinct answers we got, and every state change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations_app.chargebackstop.models import ChargebackStopKey, Integration, Organisation
from integrations_app.datafast.models import DataFastSite
from integrations_app.models.alerts import Alert


class PollAttempt(models.Model):
    site = models.ForeignKey(DataFastSite, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts")
    key = models.ForeignKey(ChargebackStopKey, null=True, blank=True, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    ok = models.BooleanField()
    error_kind = models.CharField(max_length=32, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    requests = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            # `ok` last: the overview's 24 h strips count attempts and failures per hour from the
            # index alone (18 → 6.5 ms for 50 sites polled every 5 minutes, on SQLite).
            models.Index(fields=["site", "-started_at", "ok"], name="attempt_site_idx"),
            models.Index(fields=["key", "-started_at"], name="attempt_key_idx"),
            models.Index(fields=["started_at"], name="attempt_started_idx"),
        ]

    def __str__(self) -> str:
        return f"poll at {self.started_at:%Y-%m-%d %H:%M:%S}: {'ok' if self.ok else self.error_kind}"


class Snapshot(models.Model):
    """A distinct normalised answer. A poll whose answer matches the source's `snapshot_digest`
    writes nothing here, so history grows with changes, not with polls; the latest snapshot was
    last confirmed at the source's `last_success_at`."""

    site = models.ForeignKey(DataFastSite, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshots")
    key = models.ForeignKey(
        ChargebackStopKey, null=True, blank=True, on_delete=models.CASCADE, related_name="snapshots"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    digest = models.CharField(max_length=64)
    payload = models.JSONField()

    class Meta:
        ordering = ["-taken_at"]
        indexes = [
            models.Index(fields=["site", "-taken_at"], name="snapshot_site_idx"),
            models.Index(fields=["key", "-taken_at"], name="snapshot_key_idx"),
        ]

    def __str__(self) -> str:
        return f"snapshot {self.digest[:8]} from {self.taken_at:%Y-%m-%d %H:%M}"


class ChangeKind(models.TextChoices):
    PROVIDER = "provider", "Provider connection"
    INTEGRATION_STATUS = "integration_status", "Integration status"
    INTEGRATION_NAME = "integration_name", "Integration name"
    INTEGRATION_APPEARED = "integration_appeared", "Integration appeared"
    SOURCE_HEALTH = "source_health", "Polling health"
    PADDLE_EXPIRY = "paddle_expiry", "Paddle key expiry"
    FLAPPING = "flapping", "Flapping"
    # One message when a silence or maintenance window ends on a problem it held back (alerts.policy).
    STILL_BROKEN = "still_broken", "Still broken after a silence"
    # A watched website its account's token stops (or starts again) listing: an alert only for the
    # accounts that ask for it (datafast/discovery.py), a notice on the pages for every account.
    LISTING = "listing", "Listed by its token"


class Severity(models.TextChoices):
    PROBLEM = "problem", "Problem"
    RECOVERY = "recovery", "Recovery"
    NOTICE = "notice", "Notice"
    INFO = "info", "Info"


class StatusChangeQuerySet(models.QuerySet["StatusChange"]):
    def unsent(self) -> StatusChangeQuerySet:
        """Changes someone is to be told of and no alert holds yet (the sender's queue; the
        `change_unsent_idx` partial index serves it). A change folded into a cause is told by the
        cause's message (alerts/folding.py), never on its own."""
        return self.filter(notify=True, alert__isnull=True, folded_into__isnull=True)


class StatusChange(models.Model):
    """One transition, written once (alerts.changes.record). Alerts, timelines and reports all read
    this table."""

    kind = models.CharField(max_length=24, choices=ChangeKind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    at = models.DateTimeField(default=timezone.now)
    old = models.CharField(max_length=64, blank=True)
    new = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    site = models.ForeignKey(DataFastSite, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    provider = models.CharField(max_length=16, blank=True)
    key = models.ForeignKey(ChargebackStopKey, null=True, blank=True, on_delete=models.CASCADE, related_name="changes")
    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    integration = models.ForeignKey(
        Integration, null=True, blank=True, on_delete=models.CASCADE, related_name="changes"
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    outside_dashboard = models.BooleanField(default=False)
    notify = models.BooleanField(default=False)
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="changes")
    # Held back by a silence or a maintenance window (alerts.policy): recorded and shown, not sent.
    silence = models.ForeignKey(
        "integrations_app.Silence", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    maintenance = models.ForeignKey(
        "integrations_app.MaintenanceWindow", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )
    silenced_reason = models.CharField(max_length=200, blank=True)
    # The cause it was told as part of (one message for a rejected token, a vendor outage…).
    folded_into = models.ForeignKey(
        "integrations_app.Cause", null=True, blank=True, on_delete=models.SET_NULL, related_name="changes"
    )

    objects = StatusChangeQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["site", "provider", "at"], name="change_site_idx"),
            models.Index(fields=["integration", "at"], name="change_integration_idx"),
            models.Index(fields=["organisation", "at"], name="change_organisation_idx"),
            models.Index(fields=["key", "at"], name="change_key_idx"),
            models.Index(fields=["at"], name="change_at_idx"),
            models.Index(fields=["at"], condition=Q(notify=True, alert__isnull=True), name="change_unsent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.old or '—'} → {self.new or '—'}"

    @property
    def silenced(self) -> bool:
        return bool(self.silenced_reason)
