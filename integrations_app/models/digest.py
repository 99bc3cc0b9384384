from __future__ import annotations

from django.db import models
from django.utils import timezone


class DigestRecord(models.Model):
    """A weekly digest that was sent (or is being sent): its unique (scope, week) is what makes a
    digest go out once per week, however many beat ticks or workers ask."""

    project = models.ForeignKey("integrations_app.Project", null=True, blank=True, on_delete=models.CASCADE)
    scope = models.CharField(max_length=32)  # "global" or "project:<pk>"
    week = models.CharField(max_length=8)  # ISO week in the scope's time zone, "2026-W49"
    created_at = models.DateTimeField(default=timezone.now)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["scope", "week"], name="digest_once_per_week")]

    def __str__(self) -> str:
        return f"digest {self.scope} {self.week}"
