from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone


class Alert(models.Model):
    """The changes of one cycle, told once: this row is the email to the admins (ADMINS, the default
    global channel) with the outcome of each try; each configured channel that takes some of its
    changes has a `Delivery` of its own."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        # ADMINS is empty but the alert's changes went to channels (its deliveries): no email to send.
        NO_EMAIL = "no_email", "No email (channels only)"

    created_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    subject = models.CharField(max_length=200, blank=True)
    recipients = models.JSONField(default=list)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A sender holds an alert until this time; a crashed sender's claim then lapses.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    # The page of the first thing it is about, set on the alerts of a page by views.history.
    target_url: str
    # The acknowledgements of the problems it told of, set on the alerts of a page by views.history.
    acks: list[Any]

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_due_idx")]

    def __str__(self) -> str:
        return self.subject or f"Alert {self.pk}"
