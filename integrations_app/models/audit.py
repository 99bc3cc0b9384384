from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntry(models.Model):
    """A change made through the dashboard: who, what, before, after, and what the upstream said."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    username = models.CharField(max_length=150)
    action = models.CharField(max_length=40)
    target = models.CharField(max_length=200)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ok = models.BooleanField(default=True)
    upstream_status = models.PositiveSmallIntegerField(null=True, blank=True)
    upstream_answer = models.CharField(max_length=500, blank=True)
    # The project the change concerns (its source's, when written), so members read only theirs.
    project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set on the entries of a page by views.history: the action in words, the target's page.
    action_words: str
    target_url: str

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.target}"


class FormSubmission(models.Model):
    """Makes a form submission idempotent: each rendered form carries a one-time token, and only
    the first POST with it acts. A double click or a resubmit finds the row and the result."""

    token = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)
    finished = models.BooleanField(default=False)
    result_url = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"submission {self.token}"
