"""Channels (where alerts go: an email list or an Apprise URL) and deliveries (one alert to one
channel, with the outcome of each try).

`ADMINS` (settings.ALERT_RECIPIENTS) stays the default global email channel without any row here:
the `Alert` row's own status is that email's delivery. Every `Channel` row gets a `Delivery` per
alert whose changes it takes (alerts.policy.route decides which)."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils import timezone

from integrations_app.models.alerts import Alert
from integrations_app.models.history import StatusChange
from integrations_app.models.secret_field import OptionalEncryptedSecretField


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email (through the dashboard's mail server)"
    APPRISE = "apprise", "Chat or push service (an Apprise URL)"


class Vendor(models.TextChoices):
    DATAFAST = "datafast", "DataFast"
    CHARGEBACKSTOP = "chargebackstop", "ChargebackStop"


class Channel(models.Model):
    """Somewhere alerts go. Global (no project: hears of every source) or a project's (hears of its
    sources only). It takes the message kinds ticked, narrowed further by vendor and change kind
    when those lists are not empty."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=ChannelKind.choices, default=ChannelKind.APPRISE)
    # The Apprise URL holds the service's token: encrypted, shown masked, never logged.
    url = OptionalEncryptedSecretField()
    # The URL's scheme (`slack`, `json`…), kept in clear to show what the channel is without the URL.
    service = models.CharField(max_length=32, blank=True)
    addresses = models.TextField(blank=True, help_text="Email channels: one address per line.")
    project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="channels"
    )
    takes_problems = models.BooleanField(default=True)
    takes_recoveries = models.BooleanField(default=True)
    takes_notices = models.BooleanField(default=True)
    takes_digests = models.BooleanField(default=True)
    vendors = models.JSONField(default=list, blank=True)  # empty: every vendor
    change_kinds = models.JSONField(default=list, blank=True)  # empty: every kind of change
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("channel-detail", args=[self.pk])

    @property
    def address_list(self) -> list[str]:
        return [line.strip() for line in self.addresses.splitlines() if line.strip()]

    @property
    def service_words(self) -> str:
        return "email" if self.kind == ChannelKind.EMAIL else (self.service or "apprise")


class Delivery(models.Model):
    """One alert to one channel: claimed by a conditional UPDATE like alerts, retried with backoff."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="deliveries")
    # The alert's changes this channel takes (its project's and the ones its narrowing lets through).
    changes = models.ManyToManyField(StatusChange, related_name="deliveries")
    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["alert", "channel"], name="delivery_once_per_channel")]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due_idx")]

    def __str__(self) -> str:
        return f"alert {self.alert_id} to channel {self.channel_id}: {self.status}"
