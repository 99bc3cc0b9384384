"""Who hears of a state change: the one place that decides it (DESIGN.md, "notify policy").

Every change is recorded by `alerts.changes.record`, which asks `notify` here before writing it.
The state machines (polling.transitions, polling.outcome, the upstreams' pollers and actions) say
whether a change is *worth telling* (a problem, the recovery of an incident people heard of, a
notice), and keep the incident state (`alert_open`, `health_alert_open`, flapping) from that alone.
This policy then decides whether anyone is actually told, and whom. Because incident state never
depends on its answer, a change it holds back still opens or closes its incident: a problem muted
here is still recovered from, and its recovery is told (unless held back too).

Silences, maintenance windows, dependency folding and routing are branches here. "Mute this site
for 2 hours" is one `if` in `notify` (a silence row matching the change, say), and nothing else.

Routing (`route`): a change told goes to the default global email (ADMINS, `recipients`), to every
global channel and to the channels of its source's project, each channel keeping only what its
narrowing takes (message kinds, vendors, change kinds). The batcher asks `route` once per alert,
so each channel gets one message for the changes of one cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings
from django.db.models import Q, QuerySet

from integrations_app import upstreams
from integrations_app.models import Channel, Delivery, Project, StatusChange
from integrations_app.models.history import Severity

# How a change reaches its project, most specific first (a key's own changes belong to none).
PROJECT_PATHS = ("site__project", "organisation__project", "integration__organisation__project")


def notify(change: StatusChange) -> bool:
    """Whether the change is sent to anyone. `change.notify` holds what its state machine decided
    (worth telling or not); nothing is told that is not worth telling."""
    return change.notify


def recipients() -> list[str]:
    """Who is sent the default email of every alert: everyone in ADMINS, for every change (the
    configured channels are routed by `route`)."""
    return list(settings.ALERT_RECIPIENTS)


# --- routing ------------------------------------------------------------------------------------


def message_kind(severity: str) -> str:
    """The channel option a change of this severity needs: problems, recoveries or notices."""
    return {Severity.PROBLEM: "problems", Severity.RECOVERY: "recoveries"}.get(Severity(severity), "notices")


def takes(channel: Channel, change: StatusChange, project_id: int | None) -> bool:
    """Whether `channel` hears of `change`, a change about a source of `project_id` (None: global)."""
    if channel.project_id is not None and channel.project_id != project_id:
        return False
    if not getattr(channel, f"takes_{message_kind(change.severity)}"):
        return False
    if channel.vendors and upstreams.of_change(change).package not in channel.vendors:
        return False
    return not channel.change_kinds or change.kind in channel.change_kinds


def projects_of(changes: Sequence[StatusChange]) -> dict[int, int | None]:
    """{change pk: the project of its source}, in one query whatever the number of changes."""
    rows = StatusChange.objects.filter(pk__in=[change.pk for change in changes]).values_list("pk", *PROJECT_PATHS)
    return {pk: next((project for project in projects if project is not None), None) for pk, *projects in rows}


def route(changes: Sequence[StatusChange]) -> dict[Channel, list[StatusChange]]:
    """{channel: the changes it is sent}, for the channels that take at least one of `changes`
    (saved changes; two queries whatever their number). The default email (ADMINS) is not in it:
    it takes every change (`recipients`)."""
    if not changes:
        return {}
    project_of = projects_of(changes)
    wanted = {project for project in project_of.values() if project is not None}
    routed: dict[Channel, list[StatusChange]] = {}
    for channel in Channel.objects.filter(Q(project__isnull=True) | Q(project__in=wanted)).order_by("pk"):
        taken = [change for change in changes if takes(channel, change, project_of.get(change.pk))]
        if taken:
            routed[channel] = taken
    return routed


def channels_for(change: StatusChange) -> list[Channel]:
    """The configured channels that would hear of one saved change (ADMINS aside)."""
    return list(route([change]))


def channels_that_heard(changes: Iterable[StatusChange | int]) -> QuerySet[Channel]:
    """The channels that were told of any of `changes` (a SENT delivery holding one): the ones a
    reminder about the same problem goes back to. The default email heard of a change when its
    alert's own status is SENT (`admins_heard`)."""
    pks = [change if isinstance(change, int) else change.pk for change in changes]
    sent = Delivery.objects.filter(status=Delivery.Status.SENT, changes__in=pks).values("channel_id")
    return Channel.objects.filter(pk__in=sent)


def admins_heard(changes: Iterable[StatusChange | int]) -> bool:
    """Whether the default email (ADMINS) was sent an alert holding any of `changes`."""
    pks = [change if isinstance(change, int) else change.pk for change in changes]
    return StatusChange.objects.filter(pk__in=pks, alert__status="sent").exists()


def digest_channels(project: Project | None) -> list[Channel]:
    """Where a weekly digest goes: a project's digest to that project's channels taking digests,
    the global digest (every source) to the global ones (and to ADMINS, `recipients`)."""
    return list(Channel.objects.filter(project=project, takes_digests=True).order_by("pk"))
