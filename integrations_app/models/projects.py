"""Projects group a client's sources; members see (viewers) or also change (managers) only them."""

from __future__ import annotations

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.urls import reverse


@functools.cache
def known_time_zones() -> frozenset[str]:
    """The zone names of the system's database, read once (each listing walks its whole folder:
    a tenth of a second, which a configuration import of many projects paid per project)."""
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in known_time_zones():
        raise ValidationError("Unknown time zone %(value)s: use a name such as Europe/Paris.", params={"value": value})


class Project(models.Model):
    """One client, typically: its DataFast websites and ChargebackStop organisations (a source
    belongs to at most one project; sources in none are global, seen only by staff-wide users)."""

    name = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="Used for digests and windows."
    )
    # Hours between reminders of its open, unacknowledged problems: None follows REMINDER_HOURS, 0 is never.
    reminder_hours = models.PositiveSmallIntegerField(
        "Reminders every (hours)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(24 * 7)],
        help_text="While a problem stays open and unacknowledged. Empty: the default; 0: never.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [models.UniqueConstraint(Lower("name"), name="project_name_unique_ci")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("project-detail", args=[self.pk])

    @property
    def reminder_every(self) -> int:
        """Hours between reminders (0: never), the project's own or the default."""
        return settings.REMINDER_HOURS if self.reminder_hours is None else self.reminder_hours


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (reads everything but secrets)"
    MANAGER = "manager", "Manager (also changes the project's sources, integrations, channels and silences)"


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user"]
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} ({self.role})"
