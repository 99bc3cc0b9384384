"""Silences and maintenance windows: what holds alerts back for a while (the notify policy,
alerts/policy.py, is the one that reads them).

A **silence** matches changes by project, source (a DataFast website, a ChargebackStop organisation
or key), provider, integration and change kind; an empty matcher matches anything. It always has a
start and an end, so it expires by itself; "end now" sets `ended_early_at`.

A **maintenance window** applies to a project or to one source, either once (a date-time range) or
every week (days of the week, a start time on the wall clock of a named time zone, and a duration
in real time). Daylight-saving rules (docs/decisions.md, "Silences and maintenance windows"): a
start time the clock skips (02:30 on a spring-forward night) starts when the clock reaches the
same offset after the jump (03:30); a start time the clock passes twice (01:30 on a fall-back
night) starts the first time. The duration is elapsed time, whatever the clock does meanwhile.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations_app.models.projects import validate_time_zone

UTC = zoneinfo.ZoneInfo("UTC")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@dataclass(frozen=True)
class ChangeFacts:
    """What matchers compare: a change's project (through its source), its sources, provider,
    integration and kind."""

    project_id: int | None
    site_id: int | None
    organisation_id: int | None
    key_id: int | None
    provider: str
    integration_id: int | None
    kind: str


class Matchers(models.Model):
    """The matchers a silence and a window share (a window uses project and source only). Empty
    matches anything; `owner_project` is the project the rule belongs to, for who sees and
    changes it (the matched project, else the matched source's project; none: staff only)."""

    project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    site = models.ForeignKey(
        "integrations_app.DataFastSite", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    organisation = models.ForeignKey(
        "integrations_app.Organisation", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.ForeignKey(
        "integrations_app.ChargebackStopKey", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    owner_project = models.ForeignKey(
        "integrations_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    comment = models.CharField(max_length=300, blank=True)

    class Meta:
        abstract = True

    def matches_source(self, facts: ChangeFacts) -> bool:
        return (
            (self.project_id is None or self.project_id == facts.project_id)
            and (self.site_id is None or self.site_id == facts.site_id)
            and (self.organisation_id is None or self.organisation_id == facts.organisation_id)
            and (self.key_id is None or self.key_id == facts.key_id)
        )

    def touches(self, facts: ChangeFacts) -> bool:
        """Whether it covers some of what a page shows (`facts` of a website, an organisation, an
        integration): every source matcher it has equals the page's; provider and kind aside."""
        if not self.matches_source(facts):
            return False
        integration = getattr(self, "integration_id", None)
        return integration is None or facts.integration_id in (None, integration)

    def applies_to(self) -> str:
        """What it covers, in words ("Acme Store", "project Client A", "everything")."""
        parts = []
        if self.project_id is not None:
            parts.append(f"project {self.project}")
        for name in ("site", "organisation", "key"):
            if getattr(self, f"{name}_id") is not None:
                parts.append(str(getattr(self, name)))
        return ", ".join(parts) or "every source"

    def derive_owner(self) -> None:
        if self.project_id is not None:
            self.owner_project_id = self.project_id
        elif self.site is not None:
            self.owner_project_id = self.site.project_id
        elif self.organisation is not None:
            self.owner_project_id = self.organisation.project_id
        else:
            self.owner_project_id = None


class SilenceQuerySet(models.QuerySet["Silence"]):
    def active_at(self, at: datetime) -> SilenceQuerySet:
        """The silences in force at `at` (started, not yet at their end, not ended early by then)."""
        return self.filter(starts_at__lte=at, ends_at__gt=at).filter(
            Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=at)
        )

    def current_or_coming(self, at: datetime) -> SilenceQuerySet:
        return self.filter(ends_at__gt=at).filter(Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=at))


class Silence(Matchers):
    provider = models.CharField(max_length=16, blank=True)
    integration = models.ForeignKey(
        "integrations_app.Integration", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, blank=True)  # a ChangeKind value, empty: any
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    ended_early_at = models.DateTimeField(null=True, blank=True)
    ended_early_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set once, by the follow-up that tells what is still broken after it (alerts.policy).
    followed_up_at = models.DateTimeField(null=True, blank=True)

    objects = SilenceQuerySet.as_manager()

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["ends_at"], name="silence_ends_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="silence_ends_after_start")
        ]

    def __str__(self) -> str:
        return f"silence of {self.applies_to()} until {self.ends_at:%Y-%m-%d %H:%M}"

    @property
    def effective_end(self) -> datetime:
        if self.ended_early_at is not None and self.ended_early_at < self.ends_at:
            return self.ended_early_at
        return self.ends_at

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.effective_end

    def matches_facts(self, facts: ChangeFacts) -> bool:
        return (
            self.matches_source(facts)
            and (not self.provider or self.provider == facts.provider)
            and (self.integration_id is None or self.integration_id == facts.integration_id)
            and (not self.kind or self.kind == facts.kind)
        )

    def applies_to(self) -> str:
        words = super().applies_to()
        if self.integration_id is not None:
            words = (
                f"integration {self.integration}"
                if words == "every source"
                else f"{words}, integration {self.integration}"
            )
        extra = [value for value in (self.provider, self.kind) if value]
        return f"{words} ({', '.join(extra)})" if extra else words


class MaintenanceWindow(Matchers):
    class Repeat(models.TextChoices):
        ONCE = "once", "Once"
        WEEKLY = "weekly", "Every week"

    name = models.CharField(max_length=100)
    repeat = models.CharField(max_length=8, choices=Repeat.choices, default=Repeat.ONCE)
    starts_at = models.DateTimeField(null=True, blank=True)  # once
    ends_at = models.DateTimeField(null=True, blank=True)  # once
    weekdays = models.JSONField(default=list, blank=True)  # weekly: 0 = Monday
    start_time = models.TimeField(null=True, blank=True)  # weekly, on the wall clock of time_zone
    duration = models.DurationField(null=True, blank=True)  # weekly, elapsed time
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # The end of the last occurrence whose follow-up ran (alerts.policy): each ends once.
    followed_up_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(repeat="weekly") | Q(ends_at__gt=models.F("starts_at")), name="window_once_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def occurrences(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The (start, end) of every occurrence overlapping [start, end), in order, as UTC."""
        if self.repeat == self.Repeat.ONCE:
            if self.starts_at is None or self.ends_at is None:
                return []
            return [(self.starts_at, self.ends_at)] if self.starts_at < end and self.ends_at > start else []
        if self.start_time is None or not self.duration or not self.weekdays:
            return []
        zone = self.zone()
        found = []
        day = (start - self.duration).astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            if day.weekday() in self.weekdays:
                begins = local_start(day, self.start_time, zone)
                ends = begins + self.duration
                if begins < end and ends > start:
                    found.append((begins, ends))
            day += timedelta(days=1)
        return found

    def current(self, at: datetime) -> tuple[datetime, datetime] | None:
        """The occurrence running at `at`, if any."""
        for begins, ends in self.occurrences(at, at + timedelta(microseconds=1)):
            if begins <= at < ends:
                return begins, ends
        return None

    def next_after(self, at: datetime, within: timedelta = timedelta(days=15)) -> tuple[datetime, datetime] | None:
        """The occurrence running at `at`, else the next one to start within `within`."""
        for begins, ends in self.occurrences(at, at + within):
            if ends > at:
                return begins, ends
        return None

    def schedule_words(self) -> str:
        if self.repeat == self.Repeat.ONCE:
            return "once"
        days = ", ".join(WEEKDAYS[day][:3] for day in sorted(self.weekdays))
        minutes = int(self.duration.total_seconds() // 60) if self.duration else 0
        length = f"{minutes // 60} h {minutes % 60:02d} min" if minutes % 60 else f"{minutes // 60} h"
        start = self.start_time.strftime("%H:%M") if self.start_time else "?"
        return f"every {days} at {start} {self.time_zone}, for {length}"


def local_start(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """`day` at wall-clock `at` in `zone`, as UTC. A time the clock skips (spring forward) keeps
    the offset before the jump, so 02:30 becomes 03:30 after it; a time the clock passes twice
    (fall back) is the first of the two (fold 0)."""
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


class UserProfile(models.Model):
    """A person's own settings: their time zone for pages (digests use the project's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone}"
