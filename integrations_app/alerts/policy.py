"""Who hears of a state change: the one place that decides it (DESIGN.md, "notify policy").

Every change is recorded by `alerts.changes.record`, which asks `decide` here before writing it.
The state machines (polling.transitions, polling.outcome, the upstreams' pollers and actions) say
whether a change is *worth telling* (a problem, the recovery of an incident people heard of, a
notice), and keep the incident state (`alert_open`, `health_alert_open`, flapping) from that alone.
This policy then decides whether anyone is actually told, and whom. Because incident state never
depends on its answer, a change it holds back still opens or closes its incident: a problem muted
here is still recovered from, and its recovery is told (unless held back too).

Silences and maintenance windows (models/silences.py, read through alerts/silencing.py):
- a change worth telling that a silence or a running window matches is recorded with a "silenced"
  mark (`silence` or `maintenance`, and `silenced_reason`) and not sent;
- except a recovery whose problem people had heard of before (the last thing sent about that
  subject said it was broken): it is sent, so no incident is left open in anyone's inbox, and only
  to the channels that heard of that problem (`route`; the default email hears every change told);
- when a silence or a window's occurrence ends, `follow_up_ended` writes one "still broken after
  the silence" change per subject it held a problem back for and that is still broken, once
  (a conditional UPDATE claims the silence, or the window's occurrence); they go out in one alert.

Routing (`route`): a change told goes to the default global email (ADMINS, `recipients`), to every
global channel and to the channels of its source's project, each channel keeping only what its
narrowing takes (message kinds, vendors, change kinds). The batcher asks `route` once per alert,
so each channel gets one message for the changes of one cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations_app import problems, upstreams
from integrations_app.alerts import silencing
from integrations_app.models import Channel, Delivery, MaintenanceWindow, Project, Silence, StatusChange
from integrations_app.models.history import ChangeKind, Severity

# How a change reaches its project, most specific first (a key's own changes belong to none).
PROJECT_PATHS = ("site__project", "organisation__project", "integration__organisation__project")


def notify(change: StatusChange) -> bool:
    """Whether the change is sent to anyone (`decide` for a batch of one)."""
    decide([change])
    return change.notify


def decide(changes: Sequence[StatusChange]) -> None:
    """Set each change's `notify` (and its silenced mark), for a whole batch in a constant number
    of queries: none when nothing is worth telling, two when no silence or window is in force.
    `change.notify` holds what its state machine decided; nothing is told that is not worth it."""
    wanted = [change for change in changes if change.notify]
    if not wanted:
        return
    mutes = silencing.Mutes.around([change.at for change in wanted])
    if not mutes:
        return
    facts = silencing.facts_of(wanted)
    held = [(change, mute) for change in wanted if (mute := mutes.matching(facts[id(change)], change.at))]
    recoveries = [change for change, _ in held if change.severity == Severity.RECOVERY]
    heard = silencing.last_heard(recoveries, max(change.at for change in recoveries)) if recoveries else {}
    for change, mute in held:
        if change.severity == Severity.RECOVERY and heard.get(silencing.subject_of_change(change)):
            continue  # people were told it broke: they are told it recovered
        change.notify = False
        silencing.mark(change, mute)


def follow_up_ended(now: datetime | None = None) -> list[StatusChange]:
    """One "still broken after the silence" change for each subject whose problem an ended silence
    or window occurrence held back and that is still broken. Each silence and each occurrence is
    followed up once, however many workers ask (claimed with a conditional UPDATE)."""
    from integrations_app.alerts.changes import record  # changes imports this module

    now = now or timezone.now()
    follow_ups = []
    ended = Silence.objects.filter(followed_up_at__isnull=True).filter(Q(ends_at__lte=now) | Q(ended_early_at__lte=now))
    for silence in ended.select_related("created_by"):
        if Silence.objects.filter(pk=silence.pk, followed_up_at__isnull=True).update(followed_up_at=now) != 1:
            continue
        who = silence.created_by.get_username() if silence.created_by else "someone"
        words = f"still broken after the silence by {who} ended" + (f" ({silence.comment})" if silence.comment else "")
        follow_ups += _still_broken(StatusChange.objects.filter(silence=silence), words, now)
    for window in MaintenanceWindow.objects.all():
        since = window.followed_up_until or window.created_at
        past = [occurrence for occurrence in window.occurrences(since, now) if since < occurrence[1] <= now]
        if not past:
            continue
        claimed = MaintenanceWindow.objects.filter(pk=window.pk, followed_up_until=window.followed_up_until)
        if claimed.update(followed_up_until=past[-1][1]) != 1:
            continue
        follow_ups += window_follow_ups(window, past[0][0], past[-1][1], now)
    return record(*follow_ups) if follow_ups else []


def window_follow_ups(
    window: MaintenanceWindow, since: datetime, until: datetime, now: datetime, ended: str = ""
) -> list[StatusChange]:
    """The "still broken" changes (unsaved) for what `window` held back from `since` to `until`
    (its occurrences there, claimed by the caller); `ended` says how it ended, when not by itself."""
    held = StatusChange.objects.filter(maintenance=window, at__gte=since, at__lt=until)
    return _still_broken(held, f"still broken after the maintenance window “{window.name}”{ended}", now)


def _still_broken(held_back: QuerySet[StatusChange], reason: str, now: datetime) -> list[StatusChange]:
    """The "still broken" changes (unsaved) for the subjects of the held-back changes that are
    still broken: their last telling change says so, and their source's problem state too."""
    from integrations_app.alerts.changes import change as make_change

    held = [item for item in held_back if silencing.is_broken(item.severity, item.kind, item.old)]
    if not held:
        return []
    latest = silencing.last_state(held)
    broken_sources = _sources_with_a_problem(held)
    written = []
    for subject in dict.fromkeys(silencing.subject_of_change(item) for item in held):
        last = latest.get(subject)
        if last is None or not silencing.is_broken(last.severity, last.kind, last.old):
            continue  # recovered meanwhile: closed quietly
        if _source_key(last) not in broken_sources:
            continue
        written.append(
            make_change(
                ChangeKind.STILL_BROKEN,
                Severity.PROBLEM,
                at=now,
                old=last.old if last.kind == ChangeKind.STILL_BROKEN else last.kind,
                new=last.new,
                reason=reason,
                notify=True,
                site_id=last.site_id,
                provider=last.provider,
                key_id=last.key_id,
                organisation_id=last.organisation_id,
                integration_id=last.integration_id,
            )
        )
    return written


def _source_key(change: StatusChange) -> tuple[str, int | None]:
    if change.site_id is not None:
        return ("site", change.site_id)
    if change.organisation_id is not None:
        return ("organisation", change.organisation_id)
    return ("key", change.key_id)


def _sources_with_a_problem(changes: Sequence[StatusChange]) -> set[tuple[str, int | None]]:
    """The websites, organisations and keys of `changes` whose stored problem state is a problem
    now (models/problem.py): what is open, one query per kind of source."""
    from integrations_app.models import ChargebackStopKey, DataFastSite, Organisation

    found: set[tuple[str, int | None]] = set()
    for name, model in (("site", DataFastSite), ("organisation", Organisation), ("key", ChargebackStopKey)):
        pks = {key for kind, key in map(_source_key, changes) if kind == name and key is not None}
        if pks:
            for row in model._default_manager.filter(pk__in=pks).only("pk", "problem_rank"):
                if problems.is_problem(problems.problem_of(row)):
                    found.add((name, row.pk))
    return found


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
    heard_by = _muted_recoveries_heard_by(changes)
    wanted = {project for project in project_of.values() if project is not None}
    routed: dict[Channel, list[StatusChange]] = {}
    for channel in Channel.objects.filter(Q(project__isnull=True) | Q(project__in=wanted)).order_by("pk"):
        taken = [
            change
            for change in changes
            if takes(channel, change, project_of.get(change.pk))
            and (change.pk not in heard_by or channel.pk in heard_by[change.pk])
        ]
        if taken:
            routed[channel] = taken
    return routed


def _muted_recoveries_heard_by(changes: Sequence[StatusChange]) -> dict[int, set[int]]:
    """{pk of a recovery told under a silence or a running window: the pks of the channels that
    were sent its problem}. Such a recovery is told only to close what people heard of (`decide`);
    a channel that never heard of the problem stays quiet, as the silence asks. No query without
    a recovery, two without a silence or window in force, a fixed few otherwise."""
    from integrations_app.alerts import acks  # acks builds on silencing, as this module does

    recoveries = [change for change in changes if change.severity == Severity.RECOVERY]
    mutes = silencing.Mutes.around([change.at for change in recoveries])
    if not mutes:
        return {}
    facts = silencing.facts_of(recoveries)
    muted = [change for change in recoveries if mutes.matching(facts[id(change)], change.at)]
    episodes = acks.episodes_ended_by(muted)
    problem_of = {pk: recovery for recovery, episode in episodes.items() for pk in episode.change_pks}
    heard_by: dict[int, set[int]] = {change.pk: set() for change in muted}
    for change_pk, channels in heard_of(problem_of).items():
        heard_by[problem_of[change_pk]] |= channels
    return heard_by


def heard_of(pks: Iterable[int]) -> dict[int, set[int]]:
    """{change pk: the pks of the channels that were sent it (a SENT delivery holding it)}, one query."""
    sent = Delivery.changes.through.objects.filter(
        statuschange_id__in=list(pks), delivery__status=Delivery.Status.SENT
    ).values_list("statuschange_id", "delivery__channel_id")
    found: dict[int, set[int]] = {}
    for change_pk, channel_pk in sent:
        found.setdefault(change_pk, set()).add(channel_pk)
    return found


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
