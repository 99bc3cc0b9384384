"""Dependency folding: one cause, one message (issue 12).

When many sources break for one reason, people hear of the reason once:
- a rejected credential shared by several sources (a DataFast token: every website of its account)
  is one "DataFast refused the token of account “Acme” (7 websites: …)", and a rejected
  ChargebackStop key one "ChargebackStop refused the API key … (it reaches 3 organisations: …)";
- when more than half of a vendor's enabled sources failed their last poll (timeouts, connection
  errors, 5xx, 429, bad answers), their "failing" alerts are one "DataFast is not answering
  (N websites)".

Folding happens when a cycle's changes are grouped into an alert (`batching.batch_pending`), on the
changes that alert has just claimed, inside its transaction. It never hides a change: every change
folded into a cause keeps its row, with `folded_into` naming the cause (pages show it), and it
never invents one: a cause is opened only from changes its state machine found worth telling, and
its words name only the sources it is about. Rules:
- the first alert with a change of a cause opens it (one open `Cause` per scope, a unique
  constraint) and says it in one line; later problem changes of the same cause while it is open are
  folded silently (their sources were named, or, for an outage, counted, in the first message);
- a recovery of a source whose problem was folded into a still-open cause is held (recorded, not
  sent) until the cause settles: no source affected any more (a credential), or half of the
  vendor's sources or fewer failing (an outage). The alert that sees it settle carries every held
  recovery as one line ("DataFast is answering again (8 websites)"), and closes the cause;
- a source still affected when its cause closes has its own incident open: its later recovery is
  told on its own, like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Model, Q, QuerySet

from integrations_app import upstreams
from integrations_app.alerts import acks, policy
from integrations_app.alerts.describe import Described, describe
from integrations_app.models import Alert, Cause, Health, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.models.sources import PolledSource
from integrations_app.scoping import PROJECT_OF
from integrations_app.text import fit
from integrations_app.upstreams import Upstream

# The poll errors that mean "the vendor is not answering properly" (not a verdict on a source).
UNANSWERED = ("timeout", "connection", "server_error", "rate_limited", "schema")
MAX_NAMED = 10


@dataclass(frozen=True)
class Scope:
    """What a cause is about: a credential of an upstream, or the upstream itself (an outage)."""

    kind: str  # Cause.Kind
    upstream: Upstream
    credential: Model | None = None

    @property
    def key(self) -> str:
        if self.credential is None:
            return f"{self.upstream.kind}:outage"
        return f"{self.upstream.kind}:{self.credential._meta.model_name}:{self.credential.pk}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _names(rows: list[Any]) -> str:
    names = [str(row) for row in rows[:MAX_NAMED]]
    if len(rows) > MAX_NAMED:
        names.append(f"and {len(rows) - MAX_NAMED} more")
    return ", ".join(names)


# --- Which sources a cause affects --------------------------------------------------------------


def _credential_of(upstream: Upstream, source: PolledSource) -> Model:
    credential: Model = getattr(source, upstream.credential_link) if upstream.credential_link else source
    return credential


def _refused_as_a_whole(upstream: Upstream, source: PolledSource) -> bool:
    """Whether the source's credential itself was refused (so every source sharing it is): a key is
    its own credential; a shared token is refused as a whole by a 401 (a 403 is one website's
    access) or when no key decrypts it."""
    if source.health != Health.CREDENTIAL_REJECTED:
        return False
    if not upstream.credential_link:
        return True
    return source.last_error_status == 401 or source.last_error_kind == "secret_unreadable"


def affected(scope: Scope) -> QuerySet[Any]:
    """The enabled sources the cause is about that are still in its state now."""
    model = scope.upstream.model._default_manager.filter(enabled=True)
    if scope.credential is None:
        return model.filter(failing_since__isnull=False, last_error_kind__in=UNANSWERED)
    rejected = model.filter(health=Health.CREDENTIAL_REJECTED)
    if not scope.upstream.credential_link:
        return rejected.filter(pk=scope.credential.pk)
    return rejected.filter(**{scope.upstream.credential_link: scope.credential}).filter(
        Q(last_error_status=401) | Q(last_error_kind="secret_unreadable")
    )


def holds(scope: Scope) -> bool:
    """Whether the cause is still true: a credential refused for one of its sources; an outage
    while more than half of the vendor's enabled sources (and at least two) fail."""
    count = affected(scope).count()
    if scope.credential is not None:
        return count > 0
    total = scope.upstream.model._default_manager.filter(enabled=True).count()
    return count >= 2 and 2 * count > total


def _scope_of_cause(cause: Cause) -> Scope | None:
    """The cause's scope, or None when its credential has been deleted since."""
    upstream = upstreams.BY_KIND[cause.upstream]
    if cause.kind == Cause.Kind.OUTAGE:
        return Scope(cause.kind, upstream)
    _, model_name, pk = cause.scope.split(":")
    model = next(model for model in _credential_models(upstream) if model._meta.model_name == model_name)
    credential = model._default_manager.filter(pk=pk).first()
    return None if credential is None else Scope(cause.kind, upstream, credential)


def _settled(cause: Cause) -> bool:
    scope = _scope_of_cause(cause)
    return scope is None or not holds(scope)


def _credential_models(upstream: Upstream) -> list[type[Model]]:
    if not upstream.credential_link:
        return [upstream.model]
    related = upstream.model._meta.get_field(upstream.credential_link).related_model
    assert isinstance(related, type)
    return [related]


# --- Words --------------------------------------------------------------------------------------


def _in_project(rows: QuerySet[Any], project_id: int | None) -> QuerySet[Any]:
    """`rows` narrowed to one project's, for a project channel's message (it names only its own
    sources); a model with no project (a key) is left as it is."""
    path = PROJECT_OF.get(rows.model)
    return rows if project_id is None or path is None else rows.filter(**{path: project_id})


def _problem_words(scope: Scope, first: StatusChange, project_id: int | None = None) -> tuple[str, str, int]:
    """(summary, reason, how many sources) of a cause as its first message says it; with a
    project, naming and counting only that project's sources."""
    upstream = scope.upstream
    words = upstream.words.CAUSES
    if scope.credential is None:
        failing = list(_in_project(affected(scope), project_id).order_by("pk"))
        total = _in_project(upstream.model._default_manager.filter(enabled=True), project_id).count()
        summary = words["outage"].format(sources=_plural(len(failing), upstream.source_noun))
        reason = f"{len(failing)} of {_plural(total, upstream.source_noun)} failed their last poll: {_names(failing)}"
        return summary, reason, len(failing)
    relation, noun = upstream.reach
    reached = list(_in_project(getattr(scope.credential, relation).all(), project_id))
    summary = words["credential"].format(
        credential=scope.credential, sources=_plural(len(reached), noun), names=_names(reached)
    )
    return summary.replace(": )", ")"), first.reason, len(reached)


def recovery_words(cause: Cause, count: int) -> str:
    upstream = upstreams.BY_KIND[cause.upstream]
    noun = upstream.source_noun if cause.kind == Cause.Kind.OUTAGE else upstream.reach[1]
    return upstream.words.CAUSES[f"{cause.kind}_recovery"].format(
        credential=cause.credential_name, sources=_plural(count, noun)
    )


# --- At batching time ---------------------------------------------------------------------------


class _Batch:
    """What one fold asks more than once, asked once: the open cause of a scope, whether a scope
    still holds, and the open cause each recovering source's last problem was folded into."""

    def __init__(self) -> None:
        self.open: dict[str, Cause | None] = {}
        self.holding: dict[str, bool] = {}

    def open_cause(self, scope: Scope) -> Cause | None:
        if scope.key not in self.open:
            self.open[scope.key] = _open(scope)
        return self.open[scope.key]

    def holds(self, scope: Scope) -> bool:
        if scope.key not in self.holding:
            self.holding[scope.key] = holds(scope)
        return self.holding[scope.key]

    def problem_scope(self, change: StatusChange) -> Scope | None:
        upstream = upstreams.of_change(change)
        source: PolledSource | None = getattr(change, upstream.kind, None)
        if source is None:
            return None
        if change.new == Health.CREDENTIAL_REJECTED and _refused_as_a_whole(upstream, source):
            return Scope(Cause.Kind.CREDENTIAL, upstream, _credential_of(upstream, source))
        if change.new == Health.FAILING and source.last_error_kind in UNANSWERED:
            scope = Scope(Cause.Kind.OUTAGE, upstream)
            return scope if self.open_cause(scope) is not None or self.holds(scope) else None
        return None


def _open(scope: Scope) -> Cause | None:
    return Cause.objects.filter(scope=scope.key, closed_at__isnull=True).first()


def _causes_of_recoveries(recovering: list[StatusChange]) -> dict[int, Cause]:
    """{recovery pk: the open cause its source's last problem was folded into}, in two queries per
    upstream whatever the number of recoveries."""
    found: dict[int, Cause] = {}
    for upstream in upstreams.UPSTREAMS:
        column = f"{upstream.kind}_id"
        mine = [change for change in recovering if getattr(change, column) is not None]
        if not mine:
            continue
        problems = StatusChange.objects.filter(
            kind=ChangeKind.SOURCE_HEALTH,
            severity=Severity.PROBLEM,
            **{f"{column}__in": {getattr(change, column) for change in mine}},
        )
        folded = {
            getattr(change, column): change
            for change in problems.filter(folded_into__closed_at__isnull=True, folded_into__isnull=False)
            .select_related("folded_into")
            .order_by("at", "pk")
        }
        if not folded:
            continue
        latest = dict(problems.filter(**{f"{column}__in": folded}).values_list(column).annotate(Max("pk")).order_by())
        for change in mine:
            problem = folded.get(getattr(change, column))
            if problem is not None and latest.get(getattr(change, column)) == problem.pk and problem.at <= change.at:
                assert problem.folded_into is not None
                found[change.pk] = problem.folded_into
    return found


def fold(alert: Alert, now: datetime) -> None:
    """Fold the changes `alert` has just claimed into their causes (see the module's rules). The
    caller holds the transaction that claimed them."""
    changes = list(
        alert.changes.filter(kind=ChangeKind.SOURCE_HEALTH, severity__in=[Severity.PROBLEM, Severity.RECOVERY])
        .select_related(*upstreams.SOURCE_LINKS)
        .order_by("at", "pk")
    )
    batch = _Batch()
    problems: dict[str, tuple[Scope, list[StatusChange]]] = {}
    for change in changes:
        if change.severity == Severity.PROBLEM and (scope := batch.problem_scope(change)) is not None:
            problems.setdefault(scope.key, (scope, []))[1].append(change)
    recoveries: dict[int, tuple[Cause, list[StatusChange]]] = {}
    causes = _causes_of_recoveries([change for change in changes if change.severity == Severity.RECOVERY])
    for change in changes:
        if (cause := causes.get(change.pk)) is not None:
            recoveries.setdefault(cause.pk, (cause, []))[1].append(change)
    for scope, folded in problems.values():
        _fold_problems(alert, scope, folded, batch.open_cause(scope), now)
    for cause, folded in recoveries.values():
        _fold_recoveries(alert, cause, folded, now)


def _fold_problems(alert: Alert, scope: Scope, changes: list[StatusChange], cause: Cause | None, now: datetime) -> None:
    pks = [change.pk for change in changes]
    if cause is not None:  # told already: folded silently, recorded with it
        StatusChange.objects.filter(pk__in=pks).update(alert=None, folded_into=cause)
        return
    summary, reason, count = _problem_words(scope, changes[0])
    try:
        with transaction.atomic():
            cause = Cause.objects.create(
                kind=scope.kind,
                upstream=scope.upstream.kind,
                scope=scope.key,
                summary=fit(Cause, "summary", summary),
                credential_name=fit(Cause, "credential_name", str(scope.credential or "")),
                reason=fit(Cause, "reason", reason),
                affected=count,
                opened_at=now,
                opened_by=alert,
            )
    except IntegrityError:  # another sender opened it meanwhile: it tells it
        StatusChange.objects.filter(pk__in=pks).update(alert=None, folded_into=_open(scope))
        return
    StatusChange.objects.filter(pk__in=pks).update(folded_into=cause)


def _fold_recoveries(alert: Alert, cause: Cause, changes: list[StatusChange], now: datetime) -> None:
    pks = [change.pk for change in changes]
    if not _settled(cause):  # not settled: held, told with the others when it is
        StatusChange.objects.filter(pk__in=pks).update(alert=None, folded_into=cause)
        return
    StatusChange.objects.filter(pk__in=pks).update(folded_into=cause)
    _close(cause, alert, now)


def _close(cause: Cause, alert: Alert | None, now: datetime) -> bool:
    """Close the cause (once: a conditional update) and put its held recoveries in `alert`."""
    if not Cause.objects.filter(pk=cause.pk, closed_at__isnull=True).update(closed_at=now, closed_by=alert):
        return False
    if alert is not None:
        held = StatusChange.objects.filter(folded_into=cause, alert__isnull=True, severity=Severity.RECOVERY)
        held.filter(notify=True).update(alert=alert)
    return True


def close_settled(now: datetime) -> Alert | None:
    """Close the open causes that settled with no new change to carry their recoveries (the last
    affected source was paused, say): one alert with every held recovery, or none if none was
    held. Run when nothing waits to be grouped, so a recovery on its way is not split off."""
    settled = [cause for cause in Cause.objects.filter(closed_at__isnull=True) if _settled(cause)]
    if not settled:
        return None
    with transaction.atomic():
        alert = Alert.objects.create(created_at=now, next_attempt_at=now, recipients=policy.recipients())
        for cause in settled:
            _close(cause, alert, now)
        if not alert.changes.exists():
            alert.delete()
            return None
    return alert


# --- Telling ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One line of a message: a change told on its own, or a cause standing for the changes folded
    into it. Alert emails and chat messages are both built from these lines, so one cause is one
    line in each."""

    described: Described
    reason: str
    change: StatusChange  # the change told, or the first of the cause's
    folded: bool
    # Who took the problem in hand, in acks.ack_words' wording, when the change is part of an
    # acknowledged problem (its recovery, a "still broken", a later problem of the same episode).
    acknowledged: str = ""


def lines(changes: list[StatusChange], project_id: int | None = None) -> list[Line]:
    """What a message says of its changes, in their order: a line per change told on its own, and
    one line, at its first change, for all the changes of one cause and severity. A message for a
    project's channel (`project_id`) words a cause with that project's sources only: the cause's
    own words may name other projects' websites."""
    acknowledgements = acks.acks_of(changes)
    groups: dict[tuple[int, str], list[StatusChange]] = {}
    for change in changes:
        if change.folded_into_id is not None:
            groups.setdefault((change.folded_into_id, change.severity), []).append(change)
    out: list[Line] = []
    seen: set[tuple[int, str]] = set()
    for change in changes:
        if change.folded_into is None:
            ack = acknowledgements.get(change.pk)
            out.append(Line(describe(change), change.reason, change, False, acks.ack_words(ack) if ack else ""))
            continue
        group = (change.folded_into.pk, change.severity)
        if group in seen:
            continue
        seen.add(group)
        cause, count = change.folded_into, len(groups[group])
        if change.severity == Severity.RECOVERY:
            summary, reason = recovery_words(cause, count), "answered normally again"
        elif project_id is not None and (scope := _scope_of_cause(cause)) is not None:
            summary, reason, _ = _problem_words(scope, change, project_id)
        else:
            summary, reason = cause.summary, cause.reason
        out.append(Line(Described(summary, change.severity, settings.SITE_URL + "/"), reason, change, folded=True))
    return out
