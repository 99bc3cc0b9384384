"""Forms of the silences and maintenance pages. Times typed into them are read in the reader's time
zone (their own, `timezones.py`), except a window's, which are in the window's named zone."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations_app.datafast.client import PROVIDERS
from integrations_app.forms import BootstrapForm
from integrations_app.models import Project, UserProfile
from integrations_app.models.history import ChangeKind
from integrations_app.models.silences import WEEKDAYS

# A silence always ends; one longer than this is refused (a month covers any planned work).
MAX_SILENCE = timedelta(days=31)
MAX_WINDOW = timedelta(days=7)
TOMORROW_AT = time(9, 0)
LENGTHS = [
    ("1h", "For 1 hour"),
    ("2h", "For 2 hours"),
    ("8h", "For 8 hours"),
    ("tomorrow", "Until tomorrow 09:00"),
    ("custom", "Custom: from … until …"),
]
KINDS = [("", "Any change")] + [
    (value, label) for value, label in ChangeKind.choices if value != ChangeKind.STILL_BROKEN
]
ZONES = sorted(zoneinfo.available_timezones())
LOCAL_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def _project_choices(projects: list[Project], *, everything: bool) -> list[tuple[str, str]]:
    choices = [("", "Every source (all projects and global sources)")] if everything else []
    return choices + [(str(project.pk), project.name) for project in projects]


class SilenceForm(BootstrapForm):
    length = forms.ChoiceField(label="How long", choices=LENGTHS, initial="2h", widget=forms.RadioSelect)
    starts_at = forms.DateTimeField(
        label="From", required=False, widget=LOCAL_INPUT, help_text="Custom only; empty: now. In your time zone."
    )
    ends_at = forms.DateTimeField(label="Until", required=False, widget=LOCAL_INPUT, help_text="Custom only.")
    project = forms.ChoiceField(label="Project", required=False)
    provider = forms.ChoiceField(label="Provider", required=False, choices=[("", "Any provider"), *PROVIDERS.items()])
    kind = forms.ChoiceField(label="Kind of change", required=False, choices=KINDS)
    comment = forms.CharField(
        label="Comment", max_length=300, help_text="Why, for whoever reads the alerts page later (required)."
    )

    def __init__(
        self,
        *args: Any,
        now: datetime,
        projects: list[Project] | None = None,
        everything: bool = False,
        provider: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.now = now
        if projects is None:  # the target is given by the page (a website, an organisation…)
            del self.fields["project"]
        else:
            project: forms.ChoiceField = self.fields["project"]  # type: ignore[assignment]
            project.choices = _project_choices(projects, everything=everything)
            project.required = not everything
        if not provider:
            del self.fields["provider"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        length = data.get("length")
        now = self.now
        starts: datetime
        ends: datetime | None
        if length in ("1h", "2h", "8h"):
            starts, ends = now, now + timedelta(hours=int(str(length)[:-1]))
        elif length == "tomorrow":
            tomorrow = timezone.localtime(now).date() + timedelta(days=1)
            starts = now
            ends = datetime.combine(tomorrow, TOMORROW_AT, tzinfo=timezone.get_current_timezone())
        elif length == "custom":
            starts = data.get("starts_at") or now
            ends = data.get("ends_at")
            if ends is None:
                if "ends_at" not in self.errors:
                    self.add_error("ends_at", "Enter when the silence ends: a silence always ends by itself.")
                return data
            if ends <= starts:
                self.add_error("ends_at", "The end must be after the start.")
                return data
            if ends <= now:
                self.add_error("ends_at", "This moment has passed: a silence must end in the future.")
                return data
        else:
            return data
        if ends - starts > MAX_SILENCE:
            self.add_error("ends_at" if length == "custom" else "length", "A silence lasts at most 31 days.")
        data["period"] = (starts, ends)
        return data


class WindowForm(BootstrapForm):
    name = forms.CharField(label="Name", max_length=100, help_text="Such as “Sunday backups”.")
    project = forms.ChoiceField(label="Project", required=False)
    repeat = forms.ChoiceField(
        label="Repeat", choices=[("once", "Once"), ("weekly", "Every week")], initial="once", widget=forms.RadioSelect
    )
    starts_at = forms.DateTimeField(label="From", required=False, widget=LOCAL_INPUT, help_text="Once only.")
    ends_at = forms.DateTimeField(label="Until", required=False, widget=LOCAL_INPUT, help_text="Once only.")
    weekdays = forms.TypedMultipleChoiceField(
        label="Days",
        required=False,
        coerce=int,
        choices=list(enumerate(WEEKDAYS)),
        widget=forms.CheckboxSelectMultiple,
        help_text="Every week only.",
    )
    start_time = forms.TimeField(
        label="Starting at",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text="Every week only, on the clock of the time zone below.",
    )
    duration_minutes = forms.IntegerField(
        label="Lasting (minutes)", required=False, min_value=1, max_value=int(MAX_WINDOW.total_seconds() // 60)
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=[(zone, zone) for zone in ZONES])
    comment = forms.CharField(label="Comment", max_length=300, required=False)

    def __init__(
        self, *args: Any, projects: list[Project] | None = None, everything: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if projects is None:
            del self.fields["project"]
        else:
            project: forms.ChoiceField = self.fields["project"]  # type: ignore[assignment]
            project.choices = _project_choices(projects, everything=everything)
            project.required = not everything

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        zone_name = data.get("time_zone")
        if not zone_name:
            return data
        zone = zoneinfo.ZoneInfo(zone_name)
        if data.get("repeat") == "once":
            for name in ("starts_at", "ends_at"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, "Enter a date and time for a window that happens once.")
            if data.get("starts_at") and data.get("ends_at"):
                # Typed on the window's clock, not the reader's.
                starts = timezone.make_naive(data["starts_at"]).replace(tzinfo=zone)
                ends = timezone.make_naive(data["ends_at"]).replace(tzinfo=zone)
                if ends <= starts:
                    self.add_error("ends_at", "The end must be after the start.")
                elif ends - starts > MAX_WINDOW:
                    self.add_error("ends_at", "A window lasts at most 7 days.")
                data["starts_at"], data["ends_at"] = starts, ends
        elif data.get("repeat") == "weekly":
            if not data.get("weekdays") and "weekdays" not in self.errors:
                self.add_error("weekdays", "Choose at least one day of the week.")
            if data.get("start_time") is None and "start_time" not in self.errors:
                self.add_error("start_time", "Enter the time the window starts.")
            if not data.get("duration_minutes") and "duration_minutes" not in self.errors:
                self.add_error("duration_minutes", "Enter how many minutes the window lasts.")
        return data


class TimeZoneForm(forms.ModelForm[UserProfile]):
    time_zone = forms.ChoiceField(label="Your time zone", choices=[(zone, zone) for zone in ZONES])

    class Meta:
        model = UserProfile
        fields = ["time_zone"]

    def clean_time_zone(self) -> str:
        value: str = self.cleaned_data["time_zone"]
        if value not in zoneinfo.available_timezones():
            raise ValidationError("Unknown time zone: choose one from the list, such as Europe/Paris.")
        return value


def profile_of(user: User) -> UserProfile:
    found = UserProfile.objects.filter(user=user).first()
    return found or UserProfile(user=user, time_zone=str(timezone.get_default_timezone()))
