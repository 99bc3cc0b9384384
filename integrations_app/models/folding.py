"""Causes: one reason shared by many state changes (a rejected credential, a vendor that is not
answering), told in one message instead of one per source (alerts/folding.py)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations_app.models.alerts import Alert


class Cause(models.Model):
    """What several changes were folded into. Open while its sources are still affected; the
    changes folded into it stay recorded (`StatusChange.folded_into`) and are shown with it."""

    class Kind(models.TextChoices):
        CREDENTIAL = "credential", "Credential rejected"
        OUTAGE = "outage", "Vendor not answering"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    upstream = models.CharField(max_length=8)  # the upstream's `kind` (upstreams.py): "site", "key"
    # What it is about: "site:account:3" (a DataFast token), "key:key:5" (a ChargebackStop key),
    # "site:outage" (DataFast not answering). One open cause per scope.
    scope = models.CharField(max_length=64)
    summary = models.CharField(max_length=300)  # the problem's sentence, as it was told
    credential_name = models.CharField(max_length=100, blank=True)  # the token's account, the key
    reason = models.CharField(max_length=300, blank=True)
    affected = models.PositiveIntegerField(default=0)  # sources affected when it was told
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    closed_by = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(fields=["scope"], condition=Q(closed_at__isnull=True), name="one_open_cause")
        ]

    def __str__(self) -> str:
        return self.summary
