"""The silences and maintenance pages: list the active and coming silences (and end one early),
create one from a website, organisation or integration page (or for a project), and list, create
and delete maintenance windows. Who sees and changes each goes through scoping (a rule belongs to
its `owner_project`; one with none is staff's). Every create, end and delete is audited."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from integrations_app import audit
from integrations_app.alerts import silencing
from integrations_app.alerts.silencing import audit_values as _audit_values
from integrations_app.alerts.silencing import create_silence, end_silence
from integrations_app.alerts.silencing import schedule_of as _schedule
from integrations_app.humanize import age_words
from integrations_app.models import (
    DataFastSite,
    Integration,
    MaintenanceWindow,
    Organisation,
    Project,
    Silence,
)
from integrations_app.models.silences import ChangeFacts, SilenceQuerySet
from integrations_app.scoping import manages, scope_of, visible_or_404
from integrations_app.silence_forms import SilenceForm, TimeZoneForm, WindowForm, profile_of
from integrations_app.timezones import remember
from integrations_app.views.context import broker_reachable

ENDED_ROWS = 20


@dataclass
class Target:
    """What a rule made from a page covers: its matchers, in words, whose project, and the page."""

    matchers: dict[str, Any] = field(default_factory=dict)
    words: str = ""
    project_id: int | None = None
    url: str = ""
    query: str = ""
    provider: bool = False  # a website: providers may be chosen


TARGETS: dict[str, type[Model]] = {
    "site": DataFastSite,
    "organisation": Organisation,
    "integration": Integration,
    "project": Project,
}


def _target(request: HttpRequest) -> Target | None:
    """The website, organisation, integration or project named in the query string, if any: a 404
    when the user does not see it, a 403 when they may not change it."""
    for name, model in TARGETS.items():
        raw = request.GET.get(name, "")
        if not raw:
            continue
        if not raw.isdigit():
            raise Http404("Nothing here.")
        scope = scope_of(request.user)
        if model is Project:
            if not scope.can_see(int(raw)):
                raise Http404("Nothing here.")
            found: Any = Project.objects.filter(pk=raw).first()
            if found is None:
                raise Http404("Nothing here.")
            target = Target({"project": found}, f"project {found}", found.pk, found.get_absolute_url())
        else:
            rows = model._default_manager.all()
            if model is Integration:
                rows = rows.select_related("organisation")
            found = visible_or_404(request.user, rows, pk=raw)
            if isinstance(found, Integration):
                matchers: dict[str, Any] = {"integration": found, "organisation": found.organisation}
                words, project = f"integration {found.name or found.integration_id}", found.organisation.project_id
            else:
                matchers, words, project = {name: found}, str(found), found.project_id
            target = Target(matchers, words, project, found.get_absolute_url(), provider=model is DataFastSite)
        if not scope.can_change(target.project_id):
            raise PermissionDenied("Only staff and the project's managers may silence this.")
        target.query = f"?{name}={found.pk}"
        return target
    return None


def _projects_to_choose(request: HttpRequest) -> tuple[list[Project], bool]:
    """(the projects a rule without a page may be made for, whether "every source" may be chosen)."""
    scope = scope_of(request.user)
    if not scope.manages_any:
        raise PermissionDenied("Only staff and project managers may silence alerts.")
    if scope.staff_wide:
        return list(Project.objects.all()), True
    return list(Project.objects.filter(pk__in=scope.managed)), False


def _rule_target(form: Any, target: Target | None) -> Target:
    if target is not None:
        return target
    chosen = form.cleaned_data.get("project")
    if not chosen:
        return Target({}, "every source", None, reverse("silences"))
    project = Project.objects.get(pk=chosen)
    return Target({"project": project}, f"project {project}", project.pk, reverse("silences"))


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)  # behind login_required


# --- silences ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def silence_create(request: HttpRequest) -> HttpResponse:
    target = _target(request)
    projects, everything = (None, False) if target is not None else _projects_to_choose(request)
    now = timezone.now()
    form = SilenceForm(
        request.POST if request.method == "POST" else None,
        now=now,
        projects=projects,
        everything=everything,
        provider=target is None or target.provider,
    )
    if request.method == "POST" and form.is_valid():
        chosen = _rule_target(form, target)
        starts, ends = form.cleaned_data["period"]
        silence = Silence(
            **chosen.matchers,
            provider=form.cleaned_data.get("provider") or "",
            kind=form.cleaned_data.get("kind") or "",
            starts_at=starts,
            ends_at=ends,
            comment=form.cleaned_data["comment"],
            created_by=_user(request),
        )
        create_silence(silence, request.user)
        until = timezone.localtime(ends).strftime("%d %b %H:%M %Z")
        messages.success(request, f"Silenced {silence.applies_to()} until {until}.")
        return redirect("silences")
    context = {"form": form, "target": target, "title": f"Silence {target.words}" if target else "New silence"}
    return render(request, "integrations_app/silences/silence_form.html", context)


def _silences() -> SilenceQuerySet:
    return Silence.objects.select_related(
        "created_by", "ended_early_by", "owner_project", "site", "organisation", "key", "integration", "project"
    )


@manages(_silences, lambda silence: silence.owner_project_id)
@require_POST
def silence_end(request: HttpRequest, silence: Silence) -> HttpResponse:
    still_broken = end_silence(silence, request.user, timezone.now())
    if still_broken is None:
        messages.info(request, "This silence had already ended.")
        return redirect("silences")
    _send_soon(bool(still_broken))
    words = f" {len(still_broken)} thing(s) still broken: an alert says so." if still_broken else ""
    messages.success(request, f"Ended the silence of {silence.applies_to()}.{words}")
    return redirect("silences")


def _send_soon(needed: bool) -> None:
    """Queue the sender for what the follow-up wrote (beat's sender would find it within 30 s)."""
    if not needed or not broker_reachable():
        return
    from integrations_app import tasks

    with contextlib.suppress(*tasks.PUBLISH_ERRORS):
        tasks.send_pending_alerts.apply_async(countdown=4)


@dataclass
class WindowRow:
    window: MaintenanceWindow
    running: tuple[datetime, datetime] | None
    upcoming: tuple[datetime, datetime] | None
    words: str


def _clock(at: datetime, now: datetime) -> str:
    """A moment in the reader's zone: "14:00 CET" today, "Fri 15 Jan 14:00 CET" another day."""
    local = timezone.localtime(at)
    same_day = local.date() == timezone.localtime(now).date()
    return local.strftime("%H:%M %Z" if same_day else "%a %d %b %H:%M %Z")


def window_rows(windows: list[MaintenanceWindow], now: datetime) -> list[WindowRow]:
    rows = []
    for window in windows:
        running = window.current(now)
        upcoming = None if running else window.next_after(now)
        if running:
            words = f"In maintenance until {_clock(running[1], now)} ({age_words(now - running[1])})"
        elif upcoming:
            words = f"Maintenance {age_words(now - upcoming[0])} ({_clock(upcoming[0], now)})"
        else:
            words = "No occurrence in the next 15 days"
        rows.append(WindowRow(window, running, upcoming, words))
    return rows


@login_required
@require_safe
def silence_list(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request.user)
    now = timezone.now()
    visible = scope.filter(_silences())
    current = list(scope.filter(_silences().current_or_coming(now)).order_by("starts_at", "pk"))
    ended = list(
        visible.filter(Q(ends_at__lte=now) | Q(ended_early_at__lte=now)).order_by("-ends_at", "-pk")[:ENDED_ROWS]
    )
    windows = list(scope.filter(_windows()))
    context = {
        "active": [silence for silence in current if silence.starts_at <= now],
        "coming": [silence for silence in current if silence.starts_at > now],
        "ended": ended,
        "windows": window_rows(windows, now),
        "can_change_any": scope.manages_any,
        "changeable": {
            rule.owner_project_id for rule in [*current, *windows] if scope.can_change(rule.owner_project_id)
        },
        "staff_wide": scope.staff_wide,
    }
    return render(request, "integrations_app/silences/list.html", context)


# --- maintenance windows ---------------------------------------------------------------------


def _windows() -> QuerySet[MaintenanceWindow]:
    return MaintenanceWindow.objects.select_related(
        "created_by", "owner_project", "site", "organisation", "key", "project"
    )


@login_required
@require_http_methods(["GET", "POST"])
def window_create(request: HttpRequest) -> HttpResponse:
    target = _target(request)
    if target is not None and "integration" in target.matchers:
        raise Http404("A window applies to a project or a source.")
    projects, everything = (None, False) if target is not None else _projects_to_choose(request)
    project_zone = target.matchers.get("project") if target else None
    zone = project_zone.time_zone if isinstance(project_zone, Project) else timezone.get_current_timezone_name()
    form = WindowForm(
        request.POST if request.method == "POST" else None,
        projects=projects,
        everything=everything,
        initial={"time_zone": zone},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = _rule_target(form, target)
        weekly = data["repeat"] == "weekly"
        window = MaintenanceWindow(
            **chosen.matchers,
            name=data["name"],
            repeat=data["repeat"],
            starts_at=None if weekly else data["starts_at"],
            ends_at=None if weekly else data["ends_at"],
            weekdays=sorted(data["weekdays"]) if weekly else [],
            start_time=data["start_time"] if weekly else None,
            duration=timedelta(minutes=data["duration_minutes"]) if weekly else None,
            time_zone=data["time_zone"],
            comment=data["comment"],
            created_by=_user(request),
            created_at=timezone.now(),
        )
        window.derive_owner()
        window.save()
        audit.record(
            request.user,
            "maintenance.create",
            f"maintenance {window.pk}: {window.name}",
            after=_audit_values(window, name=window.name, schedule=_schedule(window)),
            project=window.owner_project_id,
        )
        messages.success(request, f"Maintenance window “{window.name}” saved: {_schedule(window)}.")
        return redirect("silences")
    context = {
        "form": form,
        "target": target,
        "title": f"Maintenance of {target.words}" if target else "New maintenance window",
    }
    return render(request, "integrations_app/silences/window_form.html", context)


@manages(_windows, lambda window: window.owner_project_id)
@require_POST
def window_delete(request: HttpRequest, window: MaintenanceWindow) -> HttpResponse:
    before = _audit_values(window, name=window.name, schedule=_schedule(window))
    target = f"maintenance {window.pk}: {window.name}"
    still_broken = silencing.end_window(window, _user(request), timezone.now())
    audit.record(request.user, "maintenance.delete", target, before=before, project=window.owner_project_id)
    _send_soon(bool(still_broken))
    words = f" {len(still_broken)} thing(s) still broken: an alert says so." if still_broken else ""
    messages.success(request, f"Deleted the maintenance window “{window.name}”.{words}")
    return redirect("silences")


# --- on a source's page ----------------------------------------------------------------------


def for_source(request: HttpRequest, query: str, *, windows_allowed: bool = True, **given: Any) -> dict[str, Any]:
    """The silences and windows touching a source (two queries), for `_mutes.html`."""
    now = timezone.now()
    scope = scope_of(request.user)
    facts = ChangeFacts(
        project_id=given.get("project_id"),
        site_id=given.get("site_id"),
        organisation_id=given.get("organisation_id"),
        key_id=None,
        provider="",
        integration_id=given.get("integration_id"),
        kind="",
    )
    silences = [silence for silence in scope.filter(_silences().current_or_coming(now)) if silence.touches(facts)]
    windows = [window for window in scope.filter(_windows()) if window.touches(facts)]
    rows = [row for row in window_rows(windows, now) if row.running or row.upcoming]
    return {
        "mute_silences": silences,
        "mute_windows": rows,
        "mute_query": query,
        "mute_now": now,
        "mute_can_change": scope.can_change(facts.project_id),
        "mute_windows_allowed": windows_allowed,
    }


# --- a person's time zone --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def time_zone(request: HttpRequest) -> HttpResponse:
    """Set one's own time zone; pages then show times in it (timezones.py)."""
    profile = profile_of(_user(request))
    form = TimeZoneForm(request.POST if request.method == "POST" else None, instance=profile)
    if request.method == "POST" and form.is_valid():
        before = profile.time_zone if profile.pk else ""
        form.save()
        remember(request, form.instance.time_zone)
        audit.record(
            request.user,
            "account.time_zone",
            f"user {request.user.get_username()}",
            before={"time_zone": before},
            after={"time_zone": form.instance.time_zone},
            project=None,
        )
        messages.success(request, f"Times are now shown in {form.instance.time_zone}.")
        return redirect("time-zone")
    return render(request, "integrations_app/silences/time_zone.html", {"form": form})
