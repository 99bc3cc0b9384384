"""Reminders: while a project has open problems nobody acknowledged, one message every N hours
lists all of them (not one message per problem), sent back to whoever heard of those problems
(and the admins' email if it did) and to nobody else.

- A channel is reminded of the problems it heard of that it would still be sent now (`policy.takes`:
  its project and narrowing as they are today): a channel moved to another project, or no longer
  taking problems of that vendor or kind, hears no more of them.

- N is the project's `reminder_hours`, else `REMINDER_HOURS`; 0 means never. Sources in no project
  (the global scope) use `REMINDER_HOURS`.
- The periods count from the first alert of the project's oldest open unacknowledged problem (its
  *anchor*): the k-th reminder is due k·N hours after it, and never sooner than N hours after the
  scope's previous reminder (acknowledging the anchor moves it to a younger problem).
- A problem under a silence or a running maintenance window is not reminded of (alerts/silencing.py).
- Each (scope, anchor, k) is claimed by inserting a `ReminderRecord` with a unique key before
  anything is sent, so two beats or two workers never send the same reminder twice; a send that
  fails is recorded on its row, not retried into a duplicate. Rows past the longest period are
  pruned (models/retention.py): only the latest of each scope can matter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from integrations_app.alerts import acks, policy, silencing
from integrations_app.alerts.describe import link
from integrations_app.humanize import duration_words
from integrations_app.models import Channel, Project, ReminderRecord
from integrations_app.text import one_line

logger = logging.getLogger(__name__)

MAX_LISTED = 50  # a reminder is read at a glance: the rest is on the pages


@dataclass
class Reminder:
    """One scope's reminder: its open unacknowledged problems (oldest first) and, for the record,
    the acknowledged ones still open."""

    project: Project | None
    hours: int
    unacknowledged: list[acks.Episode]
    acknowledged: list[acks.Episode]

    @property
    def scope(self) -> str:
        return f"project:{self.project.pk}" if self.project else "global"

    @property
    def anchor(self) -> acks.Episode:
        return self.unacknowledged[0]

    def periods(self, now: datetime) -> int:
        """Whole periods since the anchor's first alert."""
        return int((now - self.anchor.opener.at) / timedelta(hours=self.hours))

    def slot(self, now: datetime) -> str:
        return f"{self.anchor.opener.pk}:{self.periods(now)}"

    @property
    def title(self) -> str:
        where = f"“{self.project.name}”" if self.project else "sources in no project"
        count = len(self.unacknowledged)
        return f"Reminder: {count} open problem{'s' if count != 1 else ''} in {where}, not acknowledged"

    def lines(self, now: datetime) -> list[str]:
        out = [
            f"- {episode.words}, open {duration_words(now - episode.opener.at)}: {link(episode.latest)}"
            for episode in self.unacknowledged[:MAX_LISTED]
        ]
        if len(self.unacknowledged) > MAX_LISTED:
            out.append(f"… and {len(self.unacknowledged) - MAX_LISTED} more")
        if self.acknowledged:
            out.append("Also open, acknowledged (no reminder):")
            out += [
                f"- {episode.words}: {acks.ack_words(episode.ack)}"
                for episode in self.acknowledged[:MAX_LISTED]
                if episode.ack is not None
            ]
        out.append("Acknowledge a problem on its page to stop these reminders.")
        return out


def hours_for(project: Project | None) -> int:
    return project.reminder_every if project else settings.REMINDER_HOURS


def pending(now: datetime) -> list[Reminder]:
    """Each scope with open unacknowledged problems that are not muted now (a fixed number of
    queries whatever the number of problems and projects)."""
    episodes = acks.open_episodes()
    if not episodes:
        return []
    facts = silencing.facts_of([episode.opener for episode in episodes])
    mutes = silencing.Mutes.around([now])
    by_project: dict[int | None, list[acks.Episode]] = {}
    for episode in episodes:
        if mutes and mutes.matching(facts[id(episode.opener)], now):
            continue  # nothing during its silence or maintenance window
        by_project.setdefault(facts[id(episode.opener)].project_id, []).append(episode)
    projects = Project.objects.in_bulk([pk for pk in by_project if pk is not None])
    reminders = []
    for project_id, found in by_project.items():
        project = projects.get(project_id) if project_id is not None else None
        if project_id is not None and project is None:
            continue  # deleted meanwhile
        unacknowledged = [episode for episode in found if episode.ack is None]
        if unacknowledged and (hours := hours_for(project)):
            acknowledged = [episode for episode in found if episode.ack is not None]
            reminders.append(Reminder(project, hours, unacknowledged, acknowledged))
    return reminders


def _last_sent(scopes: list[str]) -> dict[str, datetime]:
    """{scope: when its latest reminder was claimed}: one row per scope (an aggregate over the
    (scope, -created_at) index), however many reminders each had (old ones are pruned too)."""
    rows = ReminderRecord.objects.filter(scope__in=scopes).values("scope").annotate(last=Max("created_at"))
    return {row["scope"]: row["last"] for row in rows.order_by()}


def claim(reminder: Reminder, now: datetime) -> bool:
    """Take this period's reminder for the scope: True for exactly one caller, ever (a unique row)."""
    try:
        with transaction.atomic():
            ReminderRecord.objects.create(
                project=reminder.project,
                scope=reminder.scope,
                slot=reminder.slot(now),
                created_at=now,
                problems=len(reminder.unacknowledged),
            )
    except IntegrityError:
        return False
    return True


def due(now: datetime) -> list[Reminder]:
    """The reminders whose period has come and which were not sent in their scope's last N hours."""
    reminders = pending(now)
    last = _last_sent([reminder.scope for reminder in reminders])
    return [
        reminder
        for reminder in reminders
        if reminder.periods(now) >= 1
        and (reminder.scope not in last or now - last[reminder.scope] >= timedelta(hours=reminder.hours))
    ]


def send_due(now: datetime | None = None) -> int:
    """Send every reminder that is due, each claimed first: how many were sent."""
    now = now or timezone.now()
    sent = 0
    for reminder in due(now):
        if claim(reminder, now):
            deliver(reminder, now)
            sent += 1
    return sent


def audience(reminder: Reminder) -> dict[Channel, Reminder]:
    """{channel: the reminder it is sent}: each channel that heard of some of the unacknowledged
    problems and would still be sent them now, with those problems only (two queries)."""
    project_id = reminder.project.pk if reminder.project else None
    heard = policy.heard_of(pk for episode in reminder.unacknowledged for pk in episode.change_pks)
    found = {}
    for channel in Channel.objects.filter(pk__in={pk for pks in heard.values() for pk in pks}).order_by("pk"):
        own = [
            episode
            for episode in reminder.unacknowledged
            if any(channel.pk in heard.get(pk, ()) for pk in episode.change_pks)
            and policy.takes(channel, episode.opener, project_id)
        ]
        if own:
            acknowledged = [e for e in reminder.acknowledged if policy.takes(channel, e.opener, project_id)]
            found[channel] = replace(reminder, unacknowledged=own, acknowledged=acknowledged)
    return found


def deliver(reminder: Reminder, now: datetime) -> None:
    """Send the reminder to the channels that heard of its problems, and to the admins' email if
    it did; each is tried once (the period is claimed already); what failed is kept on its row."""
    from integrations_app.alerts.channels import ChannelError, send_text  # channels build on alerts

    heard = [pk for episode in reminder.unacknowledged for pk in episode.change_pks]
    title, lines = reminder.title, reminder.lines(now)
    errors: list[str] = []
    if settings.ALERT_RECIPIENTS and policy.admins_heard(heard):
        try:
            send_mail(
                one_line(f"[Paystatus] {title}", 200), "\n".join([title, "", *lines]), None, settings.ALERT_RECIPIENTS
            )
        except Exception as error:  # any transport failure: kept on the period's row
            errors.append(f"email: {type(error).__name__}: {error}")
    for channel, own in audience(reminder).items():
        try:
            send_text(channel, own.title, own.lines(now))
        except ChannelError as error:
            errors.append(f"{channel.name}: {error}")
    if errors:
        ReminderRecord.objects.filter(scope=reminder.scope, slot=reminder.slot(now)).update(
            error=one_line("; ".join(errors), 300)
        )
        logger.warning("reminder for %s not sent everywhere: %s", reminder.scope, "; ".join(errors))
