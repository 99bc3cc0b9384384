"""The sections of where alerts go and what holds them back: channels, silences and maintenance
windows. Each entry is checked by the dashboard's own form for that row (`ChannelForm`,
`SilenceForm`, `WindowForm`), fed the entry's values as if typed, so a file obeys exactly the
rules of the pages; the section only maps the file's fields to the form's and back.

Times are written so that a file reads the same on any machine: a silence's in UTC
(`2026-12-02T15:00:00Z`), a window's on the clock of its own time zone, with the offset
(`2026-12-05T02:00:00+01:00`), as its form reads them.
"""

from __future__ import annotations

import copy
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from django import forms
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from integrations_app import audit
from integrations_app.alerts.silencing import audit_values, create_silence, end_silence, end_window, schedule_of
from integrations_app.channel_forms import GLOBAL, MAX_ADDRESSES, MAX_URL_LENGTH, ChannelForm
from integrations_app.config import fields as f
from integrations_app.config.sections import Context, Ref, Section
from integrations_app.datafast.client import OBJECT_ID
from integrations_app.models import Channel, ChannelKind, MaintenanceWindow, Silence
from integrations_app.models.silences import WEEKDAYS
from integrations_app.scoping import EVERYTHING, Scope
from integrations_app.silence_forms import SilenceForm, WindowForm
from integrations_app.upstream.secret import Secret

TAKES = ["problems", "recoveries", "notices", "digests"]
SECRET = "secret"  # noqa: S105 (the file's field for a row's secret)

# The source matchers a silence and a window share: the file's field, the section it names.
SOURCES: dict[str, str] = {"project": "projects", "website": "websites", "organisation": "organisations", "key": "keys"}
CASE_INSENSITIVE = {"project", "key"}  # named by a name, compared ignoring case as their forms do
MATCHER_FIELDS: dict[str, f.Field] = {
    "project": f.Field(f.optional(f.name()), required=False),
    "website": f.Field(
        f.optional(f.text(24, pattern=OBJECT_ID, what="a website ID (24 hexadecimal characters)")), required=False
    ),
    "organisation": f.Field(f.optional(f.upstream_id("an organisation ID")), required=False),
    "key": f.Field(f.optional(f.name()), required=False),
}
COMMENT = f.Field(f.text(300, blank=True), required=False, default="")


def form_errors(form: forms.BaseForm, names: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """A form's errors as (the file's field, message); `names` maps a form field to the file's."""
    found = []
    for name, messages in form.errors.items():
        field = (names or {}).get(name, name)
        for message in messages:
            found.append(("" if field == "__all__" else field, str(message).rstrip(".")))
    return found


def _normal(name: str, value: Any) -> Any:
    return value.casefold() if name in CASE_INSENSITIVE and isinstance(value, str) else value


def _matchers(row: Silence | MaintenanceWindow) -> dict[str, Any]:
    return {
        "project": row.project.name if row.project else None,
        "website": row.site.website_id if row.site else None,
        "organisation": row.organisation.organisation_id if row.organisation else None,
        "key": row.key.name if row.key else None,
    }


def _matcher_refs(values: dict[str, Any]) -> list[Ref]:
    return [(name, section, values[name]) for name, section in SOURCES.items() if values[name] is not None]


def _set_matchers(row: Silence | MaintenanceWindow, values: dict[str, Any], context: Context) -> None:
    row.project = None if values["project"] is None else context.get("projects", values["project"])
    row.site = None if values["website"] is None else context.get("websites", values["website"])
    row.organisation = None if values["organisation"] is None else context.get("organisations", values["organisation"])
    row.key = None if values["key"] is None else context.get("keys", values["key"])
    row.derive_owner()


def _matcher_words(values: dict[str, Any]) -> str:
    parts = [f"{name} {values[name]}" for name in SOURCES if values[name] is not None]
    return ", ".join(parts) or "every source"


class Channels(Section):
    """Where alerts go. The Apprise URL, or the email addresses, is the channel's secret."""

    name, noun, identity, secret_noun = "channels", "channel", "name", "Apprise URL or email addresses"
    fields = {
        "name": f.Field(f.name()),
        "project": f.Field(f.optional(f.name()), required=False),
        "kind": f.Field(f.text(16)),
        "takes": f.Field(
            f.items(f.choice(TAKES), "kind of message", len(TAKES), TAKES.index), required=False, default=TAKES
        ),
        "vendors": f.Field(f.items(f.text(32), "vendor", 10), required=False, default=[]),
        "change_kinds": f.Field(f.items(f.text(32), "kind of change", 20), required=False, default=[]),
    }
    # The form's fields named otherwise in the file.
    form_names: ClassVar[dict[str, str]] = {"url": SECRET, "addresses": SECRET, "where": "project"}

    def rows(self, scope: Scope) -> QuerySet[Channel]:
        return scope.filter(Channel.objects.select_related("project").order_by("name", "pk"))

    def represent(self, row: Channel) -> dict[str, Any]:
        return {
            "name": row.name,
            "project": row.project.name if row.project else None,
            "kind": row.kind,
            "takes": [kind for kind in TAKES if getattr(row, f"takes_{kind}")],
            "vendors": sorted(row.vendors),
            "change_kinds": sorted(row.change_kinds),
        }

    def key_of(self, values: dict[str, Any]) -> Any:
        return (_normal("project", values["project"]), values["name"].casefold())

    def describe(self, values: dict[str, Any]) -> str:
        where = f" of project {values['project']}" if values["project"] else ""
        return f"channel “{values['name']}”{where}"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return [] if values["project"] is None else [("project", "projects", values["project"])]

    def secret_of(self, row: Channel) -> Secret:
        if row.kind == ChannelKind.EMAIL:
            return Secret(row.addresses)
        url = row.url
        return url if isinstance(url, Secret) else Secret(str(url))

    def _form(self, values: dict[str, Any], secret: Secret | None, row: Channel | None) -> ChannelForm:
        instance = row or Channel()
        email = values["kind"] == ChannelKind.EMAIL
        given = secret.reveal() if secret is not None else ""
        data: dict[str, Any] = {
            "name": values["name"],
            "kind": values["kind"],
            "where": GLOBAL,  # the project is a reference of the file, found by the section
            "url": "" if email else given,
            # An email channel whose addresses the file leaves out keeps the ones it has.
            "addresses": (given or (instance.addresses if instance.kind == ChannelKind.EMAIL else "")) if email else "",
            "vendors": values["vendors"],
            "change_kinds": values["change_kinds"],
            **{f"takes_{kind}": kind in values["takes"] for kind in TAKES},
        }
        return ChannelForm(data=data, scope=EVERYTHING, instance=instance)

    def validate(self, values: dict[str, Any], secret: Secret | None, row: Channel | None) -> list[tuple[str, str]]:
        if row is None and secret is None:
            return []  # the service already says a new channel needs its secret
        # A model form writes what it cleans into its instance: check on a copy, so the row still
        # says what the database holds when the plan compares it.
        return self._errors(self._form(values, secret, copy.copy(row)), values["kind"])

    def _errors(self, form: ChannelForm, kind: str) -> list[tuple[str, str]]:
        """The form's errors, those about the secret in words that never quote it: the page shows
        a person what they typed, but a preview of a sealed file must not open it for its reader."""
        found = []
        for name, errors in form.errors.as_data().items():
            if name not in ("url", "addresses"):
                found += [(self.form_names.get(name, name), str(message).rstrip(".")) for e in errors for message in e]
                continue
            what = "email addresses are" if kind == ChannelKind.EMAIL else "Apprise URL is"
            for error in errors:
                found.append((SECRET, f"the sealed {what} invalid: {_secret_words(error)}"))
        return [("" if name == "__all__" else name, message) for name, message in found]

    def check_secret(self, value: str) -> str | None:
        if len(value) > max(MAX_URL_LENGTH, MAX_ADDRESSES * 320):
            return "is too long for an Apprise URL or a list of addresses"
        return None

    def save(self, row: Channel | None, values: dict[str, Any], secret: Secret | None, context: Context) -> Channel:
        form = self._form(values, secret, row)
        if not form.is_valid():  # checked when the plan was made; nothing changed since
            raise ValueError(f"the {self.describe(values)} no longer passes its form")
        channel = form.save(commit=False)
        channel.project = None if values["project"] is None else context.get("projects", values["project"])
        channel.save()
        return channel


def _secret_words(error: ValidationError) -> str:
    """Why a channel's secret is refused, without its text: a message with parameters quotes what
    was typed, so it is said in words; one without is a fixed sentence."""
    if error.code == "address" and error.params:
        return f"address {error.params['number']} is not an email address (one per line)"
    if error.params:
        return "it is not accepted by the channel's form"
    return str(error.message).rstrip(".").replace("An Apprise", "an Apprise", 1)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Silences(Section):
    """Silences that have not ended yet (ended ones are history, not configuration: one in a file
    is skipped with a note, so a file kept in a repository imports again). A silence has no name:
    it is known by what it matches and when, so a file that moves its end adds a new one (and
    `--prune` ends the old early, as the Silences page does); its comment alone is a change. Its
    author (`created_by`, a username) is taken when it is created, never compared."""

    name, noun, identity = "silences", "silence", "starts_at"
    uncompared = frozenset({"created_by"})
    fields = {
        **MATCHER_FIELDS,
        "integration": f.Field(f.optional(f.upstream_id("an integration ID")), required=False),
        "provider": f.Field(f.text(16, blank=True), required=False, default=""),
        "kind": f.Field(f.text(24, blank=True), required=False, default=""),
        "starts_at": f.Field(f.text(40)),
        "ends_at": f.Field(f.text(40)),
        "comment": COMMENT,
        "created_by": f.Field(f.optional(f.text(150)), required=False),
    }

    def rows(self, scope: Scope) -> QuerySet[Silence]:
        silences = Silence.objects.current_or_coming(timezone.now()).select_related(
            "project", "site", "organisation", "key", "integration", "created_by"
        )
        return scope.filter(silences.order_by("starts_at", "ends_at", "pk"))

    def represent(self, row: Silence) -> dict[str, Any]:
        return {
            **_matchers(row),
            "integration": row.integration.integration_id if row.integration else None,
            "provider": row.provider,
            "kind": row.kind,
            "starts_at": _utc(row.starts_at),
            "ends_at": _utc(row.ends_at),
            "comment": row.comment,
            "created_by": row.created_by.get_username() if row.created_by else None,
        }

    def key_of(self, values: dict[str, Any]) -> Any:
        return tuple(_normal(name, values[name]) for name in self.fields if name not in ("comment", "created_by"))

    def describe(self, values: dict[str, Any]) -> str:
        return f"silence of {_matcher_words(values)} from {values['starts_at']} to {values['ends_at']}"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        refs = _matcher_refs(values)
        if values["integration"] is not None:
            refs.append(("integration", "integrations", values["integration"]))
        return refs

    def skipped(self, values: dict[str, Any]) -> str | None:
        try:
            ends = datetime.fromisoformat(values["ends_at"])
        except ValueError:
            return None  # the form says what is wrong with it
        ends = ends if ends.tzinfo else ends.replace(tzinfo=UTC)  # without an offset, UTC
        return "has ended, so it is skipped (history)" if ends <= timezone.now() else None

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        data = {name: values[name] for name in ("starts_at", "ends_at", "provider", "kind", "comment")}
        with timezone.override(UTC):  # a time written without an offset is UTC, as the file's are
            form = SilenceForm(data={**data, "length": "custom"}, now=timezone.now(), provider=True)
            if not form.is_valid():
                return form_errors(form, {"length": "ends_at"})
        starts, ends = form.cleaned_data["period"]
        values.update(starts_at=_utc(starts), ends_at=_utc(ends))
        return []

    def save(self, row: Silence | None, values: dict[str, Any], secret: Secret | None, context: Context) -> Silence:
        row = row or Silence()
        _set_matchers(row, values, context)
        row.integration = None if values["integration"] is None else context.integrations[values["integration"]]
        row.provider, row.kind, row.comment = values["provider"], values["kind"], values["comment"]
        row.starts_at = datetime.fromisoformat(values["starts_at"])
        row.ends_at = datetime.fromisoformat(values["ends_at"])
        if row.pk is not None:
            row.save()
            return row
        # New: its author is the file's user if there is one here, else whoever imports.
        author = User.objects.filter(username=values["created_by"]).first() if values["created_by"] else None
        row.created_by = author or (context.user if isinstance(context.user, User) else None)
        return create_silence(row, context.user)

    def delete(self, row: Silence, context: Context) -> None:
        end_silence(row, context.user, context.now)  # kept, ended early: history, followed up


def _zone(name: Any) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")  # the form refuses the name itself


class Windows(Section):
    """Maintenance windows, once (a range) or every week (days, a start time on the clock of
    `time_zone`, and a length in minutes). Known by their name and what they apply to."""

    name, noun, identity = "maintenance_windows", "maintenance window", "name"
    fields = {
        "name": f.Field(f.name()),
        **MATCHER_FIELDS,
        "repeat": f.Field(f.text(8), required=False, default=MaintenanceWindow.Repeat.ONCE.value),
        "starts_at": f.Field(f.optional(f.text(40)), required=False),
        "ends_at": f.Field(f.optional(f.text(40)), required=False),
        "weekdays": f.Field(
            f.items(f.choice(WEEKDAYS), "day of the week", len(WEEKDAYS), WEEKDAYS.index), required=False, default=[]
        ),
        "start_time": f.Field(f.optional(f.text(8)), required=False),
        "duration_minutes": f.Field(f.optional(f.whole(0)), required=False),
        "time_zone": f.Field(f.text(64), required=False, default="UTC"),
        "comment": COMMENT,
    }

    def rows(self, scope: Scope) -> QuerySet[MaintenanceWindow]:
        windows = MaintenanceWindow.objects.select_related("project", "site", "organisation", "key")
        return scope.filter(windows.order_by("name", "pk"))

    def represent(self, row: MaintenanceWindow) -> dict[str, Any]:
        zone = _zone(row.time_zone)
        once = row.repeat == MaintenanceWindow.Repeat.ONCE
        return {
            "name": row.name,
            **_matchers(row),
            "repeat": row.repeat,
            "starts_at": row.starts_at.astimezone(zone).isoformat() if once and row.starts_at else None,
            "ends_at": row.ends_at.astimezone(zone).isoformat() if once and row.ends_at else None,
            "weekdays": [] if once else [WEEKDAYS[day] for day in sorted(row.weekdays)],
            "start_time": row.start_time.strftime("%H:%M") if not once and row.start_time else None,
            "duration_minutes": int(row.duration.total_seconds() // 60) if not once and row.duration else None,
            "time_zone": row.time_zone,
            "comment": row.comment,
        }

    def key_of(self, values: dict[str, Any]) -> Any:
        return (values["name"].casefold(), *(_normal(name, values[name]) for name in SOURCES))

    def describe(self, values: dict[str, Any]) -> str:
        return f"maintenance window “{values['name']}” ({_matcher_words(values)})"

    def references(self, values: dict[str, Any]) -> list[Ref]:
        return _matcher_refs(values)

    def check(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        data = {
            "name": values["name"],
            "repeat": values["repeat"],
            "starts_at": values["starts_at"] or "",
            "ends_at": values["ends_at"] or "",
            "weekdays": [str(WEEKDAYS.index(day)) for day in values["weekdays"]],
            "start_time": values["start_time"] or "",
            "duration_minutes": "" if values["duration_minutes"] is None else str(values["duration_minutes"]),
            "time_zone": values["time_zone"],
            "comment": values["comment"],
        }
        zone = _zone(values["time_zone"])
        with timezone.override(zone):  # the form reads a window's times on its own clock
            form = WindowForm(data=data)
            if not form.is_valid():
                return form_errors(form)
        cleaned = form.cleaned_data
        if cleaned["repeat"] == MaintenanceWindow.Repeat.ONCE:
            values.update(
                starts_at=cleaned["starts_at"].isoformat(),
                ends_at=cleaned["ends_at"].isoformat(),
                weekdays=[],
                start_time=None,
                duration_minutes=None,
            )
        else:
            values.update(starts_at=None, ends_at=None, start_time=cleaned["start_time"].strftime("%H:%M"))
        return []

    def save(
        self, row: MaintenanceWindow | None, values: dict[str, Any], secret: Secret | None, context: Context
    ) -> MaintenanceWindow:
        row = row or MaintenanceWindow(created_at=timezone.now())
        _set_matchers(row, values, context)
        weekly = values["repeat"] == MaintenanceWindow.Repeat.WEEKLY
        row.name, row.repeat, row.time_zone, row.comment = (
            values["name"],
            values["repeat"],
            values["time_zone"],
            values["comment"],
        )
        row.starts_at = None if weekly else datetime.fromisoformat(values["starts_at"])
        row.ends_at = None if weekly else datetime.fromisoformat(values["ends_at"])
        row.weekdays = [WEEKDAYS.index(day) for day in values["weekdays"]] if weekly else []
        row.start_time = datetime.strptime(values["start_time"], "%H:%M").time() if weekly else None
        row.duration = timedelta(minutes=values["duration_minutes"]) if weekly else None
        row.save()
        return row

    def delete(self, row: MaintenanceWindow, context: Context) -> None:
        before = audit_values(row, name=row.name, schedule=schedule_of(row))
        target = f"maintenance {row.pk}: {row.name}"
        user = context.user if isinstance(context.user, User) else None
        end_window(row, user, context.now)  # its running occurrence followed up, as the page does
        audit.record(context.user, "maintenance.delete", target, before=before, project=row.owner_project_id)
