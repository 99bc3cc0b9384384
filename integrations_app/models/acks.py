"""Acknowledgements of open problems, and the reminders sent about the ones nobody took in hand."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class Acknowledgement(models.Model):
    """Someone took an open problem in hand. A problem's episode is named by the change that opened
    it (the first problem after its subject was last fine: alerts/acks.py), so there is one
    acknowledgement per episode, and a problem that recovers and breaks again starts unacknowledged.
    Un-acknowledging deletes the row (the audit log keeps both)."""

    opened_by = models.OneToOneField(
        "integrations_app.StatusChange", on_delete=models.CASCADE, related_name="acknowledgement"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Kept as typed at the time: the messages still name them once the user is gone.
    username = models.CharField(max_length=150)
    at = models.DateTimeField(default=timezone.now)
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"acknowledged by {self.username}"


class ReminderRecord(models.Model):
    """A reminder that was sent (or is being sent): its unique (scope, slot) is what makes one
    reminder go out per project and slot, however many beat ticks or workers ask."""

    project = models.ForeignKey("integrations_app.Project", null=True, blank=True, on_delete=models.CASCADE)
    scope = models.CharField(max_length=32)  # "global" or "project:<pk>"
    slot = models.CharField(max_length=40)  # "<pk of the change that anchors it>:<how many periods since>"
    created_at = models.DateTimeField(default=timezone.now)
    problems = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["scope", "slot"], name="reminder_once_per_slot")]
        indexes = [models.Index(fields=["scope", "-created_at"], name="reminder_scope_idx")]

    def __str__(self) -> str:
        return f"reminder {self.scope} {self.slot}"
