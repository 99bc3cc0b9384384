"""The alerts page (every alert sent or failed) and the audit page (every change made here)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, cast

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from integrations_app.alerts import acks
from integrations_app.alerts.describe import describe, with_relations
from integrations_app.alerts.emails import subject_for
from integrations_app.models import (
    Alert,
    AuditEntry,
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Delivery,
    Integration,
    Organisation,
    Project,
    StatusChange,
)
from integrations_app.scoping import Scope, scope_of
from integrations_app.text import fit, one_line

PAGE_SIZE = 50

# Audit actions in words (the codes stay in the database and the filter's values).
ACTION_WORDS = {
    "credentials.account.create": "Added a DataFast account",
    "credentials.account.update": "Changed a DataFast account",
    "credentials.account.delete": "Deleted a DataFast account",
    "credentials.site.create": "Added a DataFast website",
    "credentials.site.update": "Changed a DataFast website",
    "credentials.site.delete": "Deleted a DataFast website",
    "credentials.key.create": "Added a ChargebackStop key",
    "credentials.key.update": "Changed a ChargebackStop key",
    "credentials.key.delete": "Deleted a ChargebackStop key",
    "connection.test": "Tested a connection",
    "poll.now": "Poll now",
    "integration.create": "Created an integration",
    "integration.rename": "Renamed an integration",
    "integration.disable": "Disabled an integration",
    "project.create": "Created a project",
    "project.update": "Changed a project",
    "project.delete": "Deleted a project",
    "project.member.add": "Added a project member",
    "project.member.update": "Changed a member's role",
    "project.member.remove": "Removed a project member",
    "project.assign": "Moved a source to a project",
    "link.confirm": "Linked a website to an organisation",
    "link.dismiss": "Dismissed a link suggestion",
    "link.remove": "Unlinked a website from its organisation",
    "config.import": "Imported a configuration file",
    "problem.acknowledge": "Acknowledged a problem",
    "problem.unacknowledge": "Withdrew an acknowledgement",
    "discovery.websites": "Listed a token's websites",
    "discovery.set_aside": "Set aside websites new to a token",
    "discovery.keep_unlisted": "Kept websites a token no longer lists",
    "discovery.organisations": "Listed a key's organisations and merchants",
}
# How targets are written (integrations_app/views/credentials.py, chargebackstop/actions.py).
TARGET = re.compile(r"^(?P<kind>account|site|key|integration|organisation|project) (?P<rest>.+)$", re.DOTALL)
SITE_ID = re.compile(r"\((?P<id>[0-9a-fA-F]{24})\)$")


def action_words(action: str) -> str:
    return ACTION_WORDS.get(action, action)


def _alert_links(alerts: Iterable[Alert], scope: Scope) -> None:
    """Set `target_url` on each alert: the page of the first thing in scope it is about, in one query."""
    by_pk = {alert.pk: alert for alert in alerts}
    for alert in by_pk.values():
        alert.target_url = ""
    changes = (
        scope.changes(StatusChange.objects.filter(alert__in=list(by_pk)))
        .values_list("alert_id", "integration_id", "site_id", "organisation_id", "key_id")
        .order_by("id")
    )
    names = ("integration-detail", "site-detail", "organisation-detail", "key-detail")
    for alert_id, *pks in changes:
        alert = by_pk[alert_id]
        if not alert.target_url:
            alert.target_url = next((reverse(name, args=[pk]) for name, pk in zip(names, pks, strict=True) if pk), "")


def _as_seen_in(alerts: Iterable[Any], scope: Scope) -> None:
    """For a reader who does not see everything: the subject and count of each alert that also
    covers sources out of their scope are made of their own changes only (one query for the page),
    each told on its own (a cause's words may name other projects' sources)."""
    by_pk = {alert.pk: alert for alert in alerts}
    theirs: dict[int, list[StatusChange]] = {}
    listed = with_relations(scope.changes(StatusChange.objects.filter(alert__in=list(by_pk))))
    for change in listed.order_by("severity", "at", "pk"):
        theirs.setdefault(cast(int, change.alert_id), []).append(change)
    for pk, alert in by_pk.items():
        own = theirs.get(pk, [])
        if own and len(own) != alert.change_count:
            alert.subject = fit(Alert, "subject", one_line(subject_for([describe(change) for change in own])))
            alert.change_count = len(own)


def _alert_acks(alerts: Iterable[Alert], scope: Scope) -> None:
    """Set `acks` on each alert: the acknowledgements of the problems in scope it told of (or of
    their recovery), whatever the page holds in three queries at most."""
    by_pk = {alert.pk: alert for alert in alerts}
    changes = list(scope.changes(StatusChange.objects.filter(alert__in=list(by_pk))).order_by("id"))
    found = acks.acks_of(changes)
    for alert in by_pk.values():
        alert.acks = []
    for change in changes:
        ack = found.get(change.pk)
        alert = by_pk[change.alert_id]  # type: ignore[index]
        if ack is not None and ack not in alert.acks:
            alert.acks.append(ack)


def _audit_links(entries: Iterable[AuditEntry], scope: Scope) -> None:
    """Set `action_words` and `target_url` on each entry: one query per kind of target, whatever
    the page holds. A target deleted since, or out of the reader's scope, has no link."""
    entries = list(entries)
    wanted: dict[str, set[str]] = {}
    parsed: list[tuple[str, str] | None] = []  # (kind, value) per entry; None: not a target we link
    for entry in entries:
        entry.action_words = action_words(entry.action)
        entry.target_url = ""
        match = TARGET.match(entry.target)
        if match is None:
            parsed.append(None)
            continue
        kind, rest = match["kind"], match["rest"]
        if kind == "site":
            site_id = SITE_ID.search(rest)
            rest = site_id["id"] if site_id else ""
        parsed.append((kind, rest))
        wanted.setdefault(kind, set()).add(rest)
    found: dict[tuple[str, str], str] = {}
    lookups: dict[str, tuple[Any, str, Any]] = {
        "site": (DataFastSite, "website_id", lambda pk: reverse("site-detail", args=[pk])),
        "key": (ChargebackStopKey, "name", lambda pk: reverse("key-detail", args=[pk])),
        "integration": (Integration, "integration_id", lambda pk: reverse("integration-detail", args=[pk])),
        "organisation": (Organisation, "organisation_id", lambda pk: reverse("organisation-detail", args=[pk])),
    }
    if scope.staff_wide:  # an account has no page of its own, only its form (staff); projects' pages are staff's
        lookups["account"] = (DataFastAccount, "name", lambda pk: reverse("account-edit", args=[pk]))
        lookups["project"] = (Project, "name", lambda pk: reverse("project-detail", args=[pk]))
    for kind, values in wanted.items():
        if kind not in lookups:
            continue
        model, field, url = lookups[kind]
        rows = model.objects.all() if kind == "project" else scope.filter(model.objects.all())
        for value, pk in rows.filter(**{f"{field}__in": values}).values_list(field, "pk"):
            found[(kind, value)] = url(pk)
    for entry, target in zip(entries, parsed, strict=True):
        if target is not None:
            entry.target_url = found.get(target, "")


@login_required
@require_safe
def alerts(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]  # PostgreSQL refuses NUL in a query
    scope = scope_of(request.user)
    found = scope.alerts(Alert.objects.all())
    if status in Alert.Status.values:
        found = found.filter(status=status)
    else:
        status = ""
    if q:
        found = scope.search_alerts(found, q)
    rows = found.annotate(change_count=Count("changes")).order_by("-created_at", "-id")
    # Each alert's deliveries to the channels this user sees (one query for the page).
    deliveries = scope.filter(Delivery.objects.select_related("channel").order_by("channel__name"), "channel__project")
    rows = rows.prefetch_related(Prefetch("deliveries", queryset=deliveries))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    _alert_links(page, scope)
    if not scope.everything:
        _as_seen_in(page, scope)
    _alert_acks(page, scope)
    context = {"page": page, "filters": {"status": status, "q": q}, "statuses": Alert.Status.choices}
    return render(request, "integrations_app/alerts.html", context)


@login_required
@require_safe
def audit(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    username = request.GET.get("user", "").replace("\x00", "").strip()[:150]
    scope = scope_of(request.user)
    entries = scope.audit(AuditEntry.objects.all())
    rows = entries.order_by("-at", "-id")
    actions = list(entries.order_by("action").values_list("action", flat=True).distinct())
    if action in actions:
        rows = rows.filter(action=action)
    else:
        action = ""
    if username:
        rows = rows.filter(username__iexact=username)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    _audit_links(page, scope)
    context = {
        "page": page,
        "filters": {"action": action, "user": username},
        "actions": [(value, action_words(value)) for value in actions],
    }
    return render(request, "integrations_app/audit.html", context)
