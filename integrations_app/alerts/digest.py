"""The weekly digest: for one project (or everything, for the global digest), what broke in the
week and for how long, what is still open, the Paddle keys expiring in the next 30 days, and how
polling went (success rate, slowest sources). Built in a constant number of queries; sent once per
scope and week (a `DigestRecord` row claims it before anything is sent)."""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q, QuerySet

from integrations_app import problems
from integrations_app.alerts import policy, silencing
from integrations_app.alerts.describe import summary, with_relations
from integrations_app.humanize import age_words, duration_words
from integrations_app.models import ChargebackStopKey, DataFastSite, Organisation, PollAttempt, Project, StatusChange
from integrations_app.models.digest import DigestRecord
from integrations_app.models.history import Severity
from integrations_app.text import one_line

logger = logging.getLogger(__name__)

WEEK = timedelta(days=7)
PADDLE_HORIZON = timedelta(days=30)
SLOWEST = 5
MAX_LISTED = 50  # per section: a digest is read, not searched


@dataclass(frozen=True)
class Incident:
    what: str
    started: datetime
    ended: datetime | None  # None: still open when the digest was made

    def lasted(self, now: datetime) -> timedelta:
        return (self.ended or now) - self.started


@dataclass
class Digest:
    scope: str  # the project's name, or "all sources"
    start: datetime
    end: datetime
    zone: str = "UTC"  # the project's time zone (TIME_ZONE for the global digest)
    incidents: list[Incident] = field(default_factory=list)
    still_open: list[str] = field(default_factory=list)  # the first MAX_LISTED, in words
    still_open_count: int = 0  # all of them
    paddle_expiring: list[tuple[str, datetime]] = field(default_factory=list)
    polls: int = 0
    failed_polls: int = 0
    slowest: list[tuple[str, int]] = field(default_factory=list)

    @property
    def title(self) -> str:
        local = self.start.astimezone(zoneinfo.ZoneInfo(self.zone))
        return f"Weekly digest for {self.scope}: week of {local:%d %b %Y}"

    @property
    def success_rate(self) -> float | None:
        return None if not self.polls else (self.polls - self.failed_polls) / self.polls

    def lines(self) -> list[str]:
        """The digest as short lines, for chat and for the plain-text email."""
        out = [f"Broke this week: {len(self.incidents)}"]
        for incident in self.incidents[:MAX_LISTED]:
            state = "still open" if incident.ended is None else "recovered"
            out.append(f"- {incident.what} ({state}, {duration_words(incident.lasted(self.end))})")
        out.append(f"Still open: {self.still_open_count}")
        out += [f"- {words}" for words in self.still_open[:MAX_LISTED]]
        out.append(f"Paddle keys expiring in the next 30 days: {len(self.paddle_expiring)}")
        out += [f"- {name}: {age_words(self.end - at)}" for name, at in self.paddle_expiring[:MAX_LISTED]]
        rate = "no polls" if self.success_rate is None else f"{self.success_rate:.1%} of {self.polls} polls succeeded"
        out.append(f"Polling: {rate}")
        out += [f"- slowest: {name}, {ms} ms on average" for name, ms in self.slowest]
        return out


def _scoped(project: Project | None, **paths: str) -> Q:
    """A filter to the project's rows through the given paths (`site="site__project"`…); none for
    the global digest."""
    if project is None:
        return Q()
    condition = Q()
    for path in paths.values():
        condition |= Q(**{path: project})
    return condition


def build(project: Project | None, end: datetime) -> Digest:
    start = end - WEEK
    digest = Digest(scope=project.name if project else "all sources", start=start, end=end, zone=_zone(project))
    changes = with_relations(
        StatusChange.objects.filter(
            _scoped(
                project,
                site="site__project",
                organisation="organisation__project",
                integration="integration__organisation__project",
            ),
            at__gte=start,
            at__lt=end,
            severity__in=[Severity.PROBLEM, Severity.RECOVERY],
        ).order_by("at", "pk")
    )
    digest.incidents = _incidents(list(changes))
    sites = DataFastSite.objects.filter(_scoped(project, site="project"))
    organisations = Organisation.objects.filter(_scoped(project, organisation="project"))
    keys = ChargebackStopKey.objects.filter(_scoped(project, key="organisations__project")).distinct()
    digest.still_open, digest.still_open_count = _still_open(sites, keys, organisations, now=end)
    digest.paddle_expiring = [
        (site.name, site.paddle_key_expires_at)
        for site in sites.filter(paddle_key_expires_at__gte=end, paddle_key_expires_at__lt=end + PADDLE_HORIZON)
        .exclude(paddle_expiry_state="none")
        .order_by("paddle_key_expires_at")
        .only("name", "paddle_key_expires_at")
        if site.paddle_key_expires_at is not None
    ]
    attempts = PollAttempt.objects.filter(started_at__gte=start, started_at__lt=end)
    if project is not None:  # a key counts once however many of the project's organisations it reaches
        attempts = attempts.filter(Q(site__project=project) | Q(key__in=keys.values("pk")))
    totals = attempts.aggregate(polls=Count("pk"), failed=Count("pk", filter=Q(ok=False)))
    digest.polls, digest.failed_polls = totals["polls"], totals["failed"]
    slow_sites = attempts.filter(site__isnull=False).values("site__name").annotate(ms=Avg("duration_ms"))
    slow_keys = attempts.filter(key__isnull=False).values("key__name").annotate(ms=Avg("duration_ms"))
    slowest = [(row["site__name"], round(row["ms"])) for row in slow_sites.order_by("-ms")[:SLOWEST]]
    slowest += [(row["key__name"], round(row["ms"])) for row in slow_keys.order_by("-ms")[:SLOWEST]]
    digest.slowest = sorted(slowest, key=lambda pair: -pair[1])[:SLOWEST]
    return digest


def _incidents(changes: list[StatusChange]) -> list[Incident]:
    """Each problem of the week with its recovery (the next recovery of the same subject), if any.
    One incident per subject (alerts/silencing.py): a "still broken after the silence" or a second
    "still down" belongs to the problem it follows up, and its recovery closes it."""
    open_by_thing: dict[silencing.Subject, int] = {}
    incidents: list[Incident] = []
    for change in changes:
        thing = silencing.subject_of_change(change)
        if change.severity == Severity.PROBLEM:
            if thing not in open_by_thing:  # a second "still down" does not start a new incident
                open_by_thing[thing] = len(incidents)
                incidents.append(Incident(what=summary(change), started=change.at, ended=None))
        elif (index := open_by_thing.pop(thing, None)) is not None:
            opened = incidents[index]
            incidents[index] = Incident(what=opened.what, started=opened.started, ended=change.at)
    return incidents


def _still_open(*querysets: QuerySet[Any], now: datetime) -> tuple[list[str], int]:
    """(the first MAX_LISTED sources of each kind with a problem now, in the pages' words, how
    many sources have one in all)."""
    quiet = [problems.RANK[problem] for problem in problems.QUIET]
    found: list[str] = []
    count = 0
    for queryset in querysets:
        broken = queryset.exclude(problem_rank__in=quiet)
        rows = list(broken[:MAX_LISTED])
        count += broken.count()  # always counted: the same queries however many there are
        disconnected = problems.disconnected_by_site([row for row in rows if isinstance(row, DataFastSite)])
        for row in rows:
            problem = problems.problem_of(row)
            words = problems.words(problem, row, disconnected=disconnected.get(row.pk, ()), now=now)
            found.append(f"{row}: {words}")
    return found, count


# --- When -------------------------------------------------------------------------------------


def week_key(moment: datetime, zone: str) -> str:
    year, week, _ = moment.astimezone(zoneinfo.ZoneInfo(zone)).isocalendar()
    return f"{year}-W{week:02d}"


def is_due(moment: datetime, zone: str) -> bool:
    """Whether the configured weekday and hour have come this week, in the scope's time zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    weekday, hour = settings.DIGEST_WEEKDAY, settings.DIGEST_HOUR
    return (local.weekday(), local.hour) >= (weekday, hour)


def claim(project: Project | None, now: datetime) -> bool:
    """Take this week's digest for the scope: True for exactly one caller, ever (a unique row)."""
    zone = _zone(project)
    try:
        with transaction.atomic():
            DigestRecord.objects.create(project=project, scope=_scope(project), week=week_key(now, zone))
    except IntegrityError:
        return False
    return True


def _zone(project: Project | None) -> str:
    return project.time_zone if project else settings.TIME_ZONE


def _scope(project: Project | None) -> str:
    return f"project:{project.pk}" if project else "global"


def due_scopes(now: datetime) -> list[Project | None]:
    """The global digest and each project's, whose moment has come and which this week has not had."""
    scopes: list[Project | None] = [None, *Project.objects.all()]
    sent = set(
        DigestRecord.objects.filter(week__in={week_key(now, _zone(project)) for project in scopes}).values_list(
            "scope", "week"
        )
    )
    due = []
    for project in scopes:
        zone = _zone(project)
        if is_due(now, zone) and (_scope(project), week_key(now, zone)) not in sent:
            due.append(project)
    return due


# --- Sending ----------------------------------------------------------------------------------


def send_due(now: datetime) -> int:
    """Send every digest whose moment has come; each scope's week is claimed first, so a digest is
    never sent twice (a send that fails is recorded on its row, not retried into a duplicate)."""
    sent = 0
    for project in due_scopes(now):
        if not claim(project, now):
            continue
        deliver(project, build(project, now))
        sent += 1
    return sent


def deliver(project: Project | None, digest: Digest) -> None:
    """Send the digest where digests go (alerts.policy.digest_channels): a project's to that
    project's channels taking digests, the global one to the global channels taking digests and to
    the admins' email (ADMINS). A project with no digest channel of its own still has its digest
    emailed to the admins, as before channels existed. Each channel is tried once (the week's row
    is claimed already: never a second digest); what failed is kept on the week's row."""
    from integrations_app.alerts.channels import ChannelError, send_text  # channels build on alerts

    targets = policy.digest_channels(project)
    errors: list[str] = []
    if project is None or not targets:
        body = "\n".join([digest.title, "", *digest.lines()])
        try:
            send_mail(one_line(f"[Paystatus] {digest.title}"), body, None, list(settings.ALERT_RECIPIENTS))
        except Exception as error:  # any transport failure: kept on the week's row
            errors.append(f"email: {type(error).__name__}: {error}")
    for channel in targets:
        try:
            send_text(channel, digest.title, digest.lines())
        except ChannelError as error:
            errors.append(f"{channel.name}: {error}")
    if errors:
        DigestRecord.objects.filter(scope=_scope(project), week=week_key(digest.end, _zone(project))).update(
            error=one_line("; ".join(errors), 300)
        )
        logger.warning("weekly digest for %s not sent everywhere: %s", digest.scope, "; ".join(errors))
