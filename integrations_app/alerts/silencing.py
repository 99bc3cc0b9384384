"""What the notify policy (alerts/policy.py) needs to know about silences and maintenance
windows, read set-wise: a batch of changes costs the same few queries as one change.

- `Mutes.around(changes)`: the silences and windows that could hold any of them back (two queries);
- `facts_of(changes)`: each change's project, sources, provider, integration and kind (no query
  when the changes carry their sources, as the pollers write them; one per kind of source otherwise);
- `subject_of(...)`: which thing a change is about, so a recovery finds the problem people heard of,
  and an ended silence finds what is still broken;
- `create_silence`, `end_silence`, `end_window`: what the Silences page and a configuration import
  do to a silence or a window, in one home (audited, and followed up when it ends).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from integrations_app import audit
from integrations_app.models import (
    DataFastSite,
    Integration,
    MaintenanceWindow,
    Organisation,
    Silence,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.models.silences import ChangeFacts
from integrations_app.text import fit

Mute = Silence | MaintenanceWindow
Subject = tuple[Any, ...]


@dataclass
class Mutes:
    """The silences and windows in force at some moment of a batch (loaded once per batch)."""

    silences: list[Silence] = field(default_factory=list)
    windows: list[MaintenanceWindow] = field(default_factory=list)

    @classmethod
    def around(cls, moments: Sequence[datetime]) -> Mutes:
        if not moments:
            return cls()
        first, last = min(moments), max(moments)
        silences = list(
            Silence.objects.filter(starts_at__lte=last, ends_at__gt=first)
            .filter(Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=first))
            .select_related("created_by")
        )
        windows = [
            window
            for window in MaintenanceWindow.objects.filter(
                Q(repeat=MaintenanceWindow.Repeat.WEEKLY) | Q(starts_at__lte=last, ends_at__gt=first)
            )
            if window.occurrences(first, last + timedelta(microseconds=1))
        ]
        return cls(silences, windows)

    def __bool__(self) -> bool:
        return bool(self.silences or self.windows)

    def matching(self, facts: ChangeFacts, at: datetime) -> Mute | None:
        """The first silence, else window, in force at `at` that matches."""
        for silence in self.silences:
            if silence.active_at(at) and silence.matches_facts(facts):
                return silence
        for window in self.windows:
            if window.matches_source(facts) and window.current(at) is not None:
                return window
        return None


def mark(change: StatusChange, mute: Mute) -> None:
    """Record on the change what held it back, in words shown beside it on the pages."""
    if isinstance(mute, Silence):
        change.silence = mute
        who = mute.created_by.get_username() if mute.created_by else "someone"
        until = timezone.localtime(mute.effective_end).strftime("%Y-%m-%d %H:%M %Z")
        words = f"silenced by {who} until {until}" + (f": {mute.comment}" if mute.comment else "")
    else:
        change.maintenance = mute
        words = f"maintenance window “{mute.name}”"
    change.silenced_reason = fit(StatusChange, "silenced_reason", words)


def _cached(change: StatusChange, name: str) -> Any:
    descriptor = getattr(StatusChange, name)
    return getattr(change, name) if descriptor.is_cached(change) else None


def facts_of(changes: Sequence[StatusChange]) -> dict[int, ChangeFacts]:
    """{id(change): its facts}. The project comes from the website, else the organisation (an
    integration's changes carry theirs); a key's own changes belong to no project."""
    site_projects: dict[int, int | None] = {}
    organisation_projects: dict[int, int | None] = {}
    integration_projects: dict[int, int | None] = {}
    for change in changes:
        if (site := _cached(change, "site")) is not None:
            site_projects[site.pk] = site.project_id
        if (organisation := _cached(change, "organisation")) is not None:
            organisation_projects[organisation.pk] = organisation.project_id
    missing_sites = {c.site_id for c in changes if c.site_id is not None} - site_projects.keys()
    missing_organisations = {
        c.organisation_id for c in changes if c.organisation_id is not None
    } - organisation_projects.keys()
    missing_integrations = {
        c.integration_id for c in changes if c.integration_id is not None and c.organisation_id is None
    }
    if missing_sites:
        site_projects.update(DataFastSite.objects.filter(pk__in=missing_sites).values_list("pk", "project_id"))
    if missing_organisations:
        organisation_projects.update(
            Organisation.objects.filter(pk__in=missing_organisations).values_list("pk", "project_id")
        )
    if missing_integrations:
        integration_projects.update(
            Integration.objects.filter(pk__in=missing_integrations).values_list("pk", "organisation__project_id")
        )
    found = {}
    for change in changes:
        if change.site_id is not None:
            project = site_projects.get(change.site_id)
        elif change.organisation_id is not None:
            project = organisation_projects.get(change.organisation_id)
        elif change.integration_id is not None:
            project = integration_projects.get(change.integration_id)
        else:
            project = None
        found[id(change)] = ChangeFacts(
            project_id=project,
            site_id=change.site_id,
            organisation_id=change.organisation_id,
            key_id=change.key_id,
            provider=change.provider,
            integration_id=change.integration_id,
            kind=change.old if change.kind == ChangeKind.STILL_BROKEN else change.kind,
        )
    return found


SUBJECT_FIELDS = ("kind", "old", "site_id", "provider", "integration_id", "organisation_id", "key_id")


def subject_of(row: Sequence[Any]) -> Subject:
    """The thing a change is about: a provider on a website (its connection and flapping), a
    website's Paddle key expiry, an integration, a source's polling health. A "still broken"
    message is about the subject of the change it follows up (its `old` holds that kind)."""
    kind, old, site_id, provider, integration_id, organisation_id, key_id = row
    if kind == ChangeKind.STILL_BROKEN:
        kind = old
    if integration_id is not None:
        return ("integration", integration_id)
    if kind == ChangeKind.SOURCE_HEALTH:
        return ("health", site_id, key_id)
    if kind == ChangeKind.PADDLE_EXPIRY:
        return ("paddle", site_id)
    if site_id is not None:
        return ("connection", site_id, provider)
    return ("other", kind, organisation_id, key_id)


def subject_of_change(change: StatusChange) -> Subject:
    return subject_of([getattr(change, name) for name in SUBJECT_FIELDS])


# What says a subject is broken or fine: problems and recoveries, and flapping notices.
TELLING = Q(severity__in=[Severity.PROBLEM, Severity.RECOVERY]) | Q(kind=ChangeKind.FLAPPING)


def subjects_q(changes: Iterable[StatusChange]) -> Q:
    sites = {c.site_id for c in changes if c.site_id is not None}
    integrations = {c.integration_id for c in changes if c.integration_id is not None}
    organisations = {c.organisation_id for c in changes if c.organisation_id is not None}
    keys = {c.key_id for c in changes if c.key_id is not None and c.integration_id is None}
    q = Q(pk__in=[])
    if sites:
        q |= Q(site__in=sites)
    if integrations:
        q |= Q(integration__in=integrations)
    if organisations:
        q |= Q(organisation__in=organisations, integration__isnull=True)
    if keys:
        q |= Q(key__in=keys, integration__isnull=True)
    return q


def is_broken(severity: str, kind: str, old: str) -> bool:
    """Whether a telling change leaves its subject broken (a problem, a flapping spell starting)."""
    return severity == Severity.PROBLEM or (kind == ChangeKind.FLAPPING and severity == Severity.NOTICE and bool(old))


def last_heard(changes: Sequence[StatusChange], before: datetime) -> dict[Subject, bool]:
    """{subject: whether the last thing sent about it said it is broken}, for the subjects of
    `changes`, from the changes someone was told of before `before` (one query)."""
    rows = (
        StatusChange.objects.filter(subjects_q(changes), TELLING, notify=True, at__lte=before)
        .order_by("at", "id")
        .values_list("severity", *SUBJECT_FIELDS)
    )
    heard: dict[Subject, bool] = {}
    for severity, *row in rows:
        heard[subject_of(row)] = is_broken(severity, row[0], row[1])
    return heard


def last_state(changes: Sequence[StatusChange]) -> dict[Subject, StatusChange]:
    """{subject: its latest telling change, sent or held back}, for the subjects of `changes`."""
    latest: dict[Subject, StatusChange] = {}
    for change in StatusChange.objects.filter(subjects_q(changes), TELLING).order_by("at", "id"):
        latest[subject_of_change(change)] = change
    return latest


# --- creating and ending, for the Silences page and a configuration import --------------------


def audit_values(rule: Mute, **extra: Any) -> dict[str, Any]:
    return {"applies_to": rule.applies_to(), "comment": rule.comment, **extra}


def schedule_of(window: MaintenanceWindow) -> str:
    if window.repeat == MaintenanceWindow.Repeat.ONCE and window.starts_at and window.ends_at:
        zone = window.zone()
        begins, ends = window.starts_at.astimezone(zone), window.ends_at.astimezone(zone)
        return f"once, {begins:%Y-%m-%d %H:%M} to {ends:%Y-%m-%d %H:%M} {window.time_zone}"
    return window.schedule_words()


def _someone(user: User | AnonymousUser) -> User | None:
    return user if isinstance(user, User) else None


def create_silence(silence: Silence, user: User | AnonymousUser) -> Silence:
    """Saves a new silence, its owner derived from what it matches, and audits it."""
    silence.derive_owner()
    silence.save()
    audit.record(
        user,
        "silence.create",
        f"silence {silence.pk}: {silence.applies_to()}",
        after=audit_values(silence, starts_at=silence.starts_at.isoformat(), ends_at=silence.ends_at.isoformat()),
        project=silence.owner_project_id,
    )
    return silence


def end_silence(silence: Silence, user: User | AnonymousUser, now: datetime) -> list[StatusChange] | None:
    """Ends a silence early (claimed with a conditional UPDATE, so twice ends it once), audited,
    and says at once what it held back and is still broken. None: it had already ended."""
    from integrations_app.alerts import policy  # policy imports this module

    ended = (
        Silence.objects.filter(pk=silence.pk, ends_at__gt=now)
        .filter(Q(ended_early_at__isnull=True) | Q(ended_early_at__gt=now))
        .update(ended_early_at=now, ended_early_by=_someone(user))
    )
    if not ended:
        return None
    audit.record(
        user,
        "silence.end",
        f"silence {silence.pk}: {silence.applies_to()}",
        before=audit_values(silence, ends_at=silence.ends_at.isoformat()),
        after={"ended_at": now.isoformat()},
        project=silence.owner_project_id,
    )
    return policy.follow_up_ended(now)


def end_window(window: MaintenanceWindow, user: AbstractBaseUser | None, now: datetime) -> list[StatusChange]:
    """Delete `window`, first following up every occurrence not followed up yet, the running one
    included (cut short at `now`): one "still broken after the maintenance" change per subject it
    held a problem back for that is still broken, like a silence's end, so deleting a running
    window never orphans its problems. The changes it held back keep their mark's words. Returns
    the changes written (to be sent); none when another caller deleted it first. The caller audits
    (`audit_values`, `schedule_of`), as it saw the window."""
    from integrations_app.alerts import changes, policy  # both import this module

    with transaction.atomic():
        # Locked, so a beat's follow-up (alerts.policy) and a second delete wait, then find it gone.
        locked = MaintenanceWindow.objects.select_for_update().filter(pk=window.pk).first()
        if locked is None:
            return []
        since = locked.followed_up_until or locked.created_at
        begun = [occurrence for occurrence in locked.occurrences(since, now) if occurrence[0] <= now]
        who = user.get_username() if user is not None else "the configuration"
        follow_ups = (
            policy.window_follow_ups(
                locked, begun[0][0], now + timedelta(microseconds=1), now, f" ended early by {who}"
            )
            if begun
            else []
        )
        locked.delete()  # first: a window still in force would hold its own follow-up back
        return changes.record(*follow_ups) if follow_ups else []
