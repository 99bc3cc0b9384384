"""Open problems and their acknowledgements.

A *problem* is a subject (alerts/silencing.py: a provider on a website, a source's polling health,
a Paddle key, an integration) whose telling changes last said it is broken, on a source whose
stored problem state is still a problem. Its *episode* runs from the first broken change after the
subject was last fine (its `opener`) to the recovery that ends it; an `Acknowledgement` names the
opener, so a problem that recovers and breaks again is a new, unacknowledged episode.

Everything here reads the changes set-wise: a page, a message or a beat tick costs the same few
queries whatever the number of problems.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from integrations_app import problems
from integrations_app.alerts.describe import summary, with_relations
from integrations_app.alerts.silencing import TELLING, Subject, is_broken, subject_of_change, subjects_q
from integrations_app.models import Acknowledgement, StatusChange
from integrations_app.text import one_line


@dataclass
class Episode:
    """One open problem: the change that opened it, the latest that said it is broken, the pks of
    all its changes (who heard of any of them is who a reminder goes back to), its acknowledgement."""

    subject: Subject
    opener: StatusChange
    latest: StatusChange
    change_pks: list[int] = field(default_factory=list)
    ack: Acknowledgement | None = None

    @property
    def words(self) -> str:
        return summary(self.latest)


def _walk(
    changes: Iterable[StatusChange], ended: dict[int, Episode] | None = None
) -> tuple[dict[int, StatusChange], dict[Subject, Episode]]:
    """From telling changes in order: ({change pk: the opener of its episode}, {subject: its episode
    still open at the end}). A recovery belongs to the episode it ends (kept in `ended` by its pk)."""
    opener_of: dict[int, StatusChange] = {}
    running: dict[Subject, Episode] = {}
    for change in changes:
        subject = subject_of_change(change)
        episode = running.get(subject)
        if is_broken(change.severity, change.kind, change.old):
            if episode is None:
                episode = running[subject] = Episode(subject, opener=change, latest=change)
            episode.latest = change
            episode.change_pks.append(change.pk)
            opener_of[change.pk] = episode.opener
        elif episode is not None:
            opener_of[change.pk] = episode.opener
            if ended is not None:
                ended[change.pk] = episode
            del running[subject]
    return opener_of, running


def episodes_ended_by(recoveries: Sequence[StatusChange]) -> dict[int, Episode]:
    """{recovery pk: the episode it ended}, for saved recoveries (one query)."""
    if not recoveries:
        return {}
    until = max(change.at for change in recoveries)
    rows = StatusChange.objects.filter(subjects_q(recoveries), TELLING, at__lte=until).order_by("at", "id")
    ended: dict[int, Episode] = {}
    _walk(rows, ended)
    return {change.pk: ended[change.pk] for change in recoveries if change.pk in ended}


# The telling changes about a source whose stored problem state is a problem now: a website's,
# else an organisation's (an integration's changes carry theirs), else a key's own.
_PROBLEM_RANKS = [problems.RANK[problem] for problem in problems.ORDER if problems.is_problem(problem)]
_ON_A_PROBLEM_SOURCE = (
    Q(site__problem_rank__in=_PROBLEM_RANKS)
    | Q(site__isnull=True, organisation__problem_rank__in=_PROBLEM_RANKS)
    | Q(site__isnull=True, organisation__isnull=True, key__problem_rank__in=_PROBLEM_RANKS)
)


def open_episodes(changes: QuerySet[StatusChange] | None = None) -> list[Episode]:
    """The open problems among `changes` (by default every change), oldest first, each with its
    acknowledgement if any: two queries."""
    queryset = StatusChange.objects.all() if changes is None else changes
    rows = with_relations(queryset.filter(TELLING).filter(_ON_A_PROBLEM_SOURCE)).order_by("at", "id")
    _, running = _walk(rows)
    episodes = sorted(running.values(), key=lambda episode: (episode.opener.at, episode.opener.pk))
    if episodes:
        acks = Acknowledgement.objects.filter(opened_by__in=[episode.opener.pk for episode in episodes])
        by_opener = {ack.opened_by_id: ack for ack in acks}
        for episode in episodes:
            episode.ack = by_opener.get(episode.opener.pk)
    return episodes


def open_episode(opener: StatusChange) -> Episode | None:
    """The open problem `opener` opened, if it is still open (None: it recovered, or it was not
    the change that opened it)."""
    # The whole history of its source: from `opener` on, a later change of an episode would look
    # like the one that opened it.
    for episode in open_episodes(StatusChange.objects.filter(subjects_q([opener]))):
        if episode.opener.pk == opener.pk:
            return episode
    return None


def acks_of(changes: Sequence[StatusChange]) -> dict[int, Acknowledgement]:
    """{change pk: the acknowledgement of the episode it belongs to}, for the changes of an
    acknowledged episode (its problems, its "still broken", its recovery). One query when none of
    their subjects was ever acknowledged, two otherwise."""
    if not changes:
        return {}
    subjects = subjects_q(changes)
    acks = list(
        Acknowledgement.objects.filter(opened_by__in=StatusChange.objects.filter(subjects)).select_related("opened_by")
    )
    if not acks:
        return {}
    by_opener = {ack.opened_by_id: ack for ack in acks}
    since = min(ack.opened_by.at for ack in acks)
    until = max(change.at for change in changes)
    rows = StatusChange.objects.filter(subjects, TELLING, at__gte=since, at__lte=until).order_by("at", "id")
    opener_of, _ = _walk(rows)
    found = {}
    for change in changes:
        opener = opener_of.get(change.pk)
        if opener is not None and opener.pk in by_opener:
            found[change.pk] = by_opener[opener.pk]
    return found


def mark_acknowledged(sites: Sequence[Any], organisations: Sequence[Any] = ()) -> None:
    """Set `acknowledged` on each website and organisation listed: the latest acknowledgement when
    every open problem it has is acknowledged, else None (for the badge beside its problem on the
    lists). Two queries, none when no listed row has a problem."""
    listed = {"site": list(sites), "organisation": list(organisations)}
    for rows in listed.values():
        for row in rows:
            row.acknowledged = None
    broken = {
        kind: [row for row in rows if problems.is_problem(problems.problem_of(row))] for kind, rows in listed.items()
    }
    if not any(broken.values()):
        return
    changes = StatusChange.objects.filter(
        Q(site__in=broken["site"]) | Q(site__isnull=True, organisation__in=broken["organisation"])
    )
    by_source: dict[tuple[str, int | None], list[Episode]] = {}
    for episode in open_episodes(changes):
        opener = episode.opener
        source = ("site", opener.site_id) if opener.site_id is not None else ("organisation", opener.organisation_id)
        by_source.setdefault(source, []).append(episode)
    for kind, rows in broken.items():
        for row in rows:
            found = [episode.ack for episode in by_source.get((kind, row.pk), [])]
            if found and all(ack is not None for ack in found):
                row.acknowledged = max((ack for ack in found if ack is not None), key=lambda ack: ack.at)


def ack_words(ack: Acknowledgement) -> str:
    """The one wording of an acknowledgement, for pages, chat and email alike."""
    when = timezone.localtime(ack.at).strftime("%Y-%m-%d %H:%M %Z")
    words = f"acknowledged by {ack.username} at {when}"
    return one_line(f"{words}: {ack.comment}" if ack.comment else words)
