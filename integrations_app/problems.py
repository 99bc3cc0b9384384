"""What is wrong with a source, in one documented order: the one truth for "is anything broken".

Every page, count, filter, sort, JSON answer, email and `/healthz` reads a source's problem from
`with_problem()`, which annotates a queryset with `problem_rank`: the position, in `ORDER`, of the
first rule that holds. It is one SQL expression over the source's own row (plus an indexed probe of
its open integrations), so pages keep a constant number of queries and time-dependent states
(stale, a Paddle key passing its expiry) are true at the moment of the query, not at the last poll.

The order, most serious first (a source shows the first that applies):
  credential rejected → not found → disconnected (naming what) → integration disabled or gone →
  Paddle key expired → failing → stale → Paddle key expiring → paused → not polled yet → ok
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Value, When
from django.utils import timezone

from integrations_app.datafast.client import PROVIDERS
from integrations_app.humanize import age_words
from integrations_app.models import (
    ChargebackStopKey,
    DataFastSite,
    Health,
    Integration,
    KeyOrganisation,
    Organisation,
    ProviderState,
)
from integrations_app.models.chargebackstop import IntegrationStatus

PADDLE_WARNING = timedelta(days=14)


class Problem(models.TextChoices):
    """In order of precedence: a lower position is more serious and sorts first."""

    CREDENTIAL_REJECTED = "credential_rejected", "Credential rejected"
    NOT_FOUND = "not_found", "Not found"
    DISCONNECTED = "disconnected", "Disconnected"
    INTEGRATION_LOST = "integration_lost", "Integration disabled or gone"
    PADDLE_EXPIRED = "paddle_expired", "Paddle key expired"
    FAILING = "failing", "Failing to poll"
    STALE = "stale", "Stale"
    PADDLE_EXPIRING = "paddle_expiring", "Paddle key expiring"
    PAUSED = "paused", "Paused"
    PENDING = "pending", "Not polled yet"
    OK = "ok", "OK"


ORDER: list[Problem] = list(Problem)
RANK = {problem: position for position, problem in enumerate(ORDER)}
# Not a problem: a source in one of these needs nobody's attention.
QUIET = frozenset({Problem.PAUSED, Problem.PENDING, Problem.OK})
ICONS = {
    Problem.CREDENTIAL_REJECTED: "⊘",
    Problem.NOT_FOUND: "?",
    Problem.DISCONNECTED: "✖",
    Problem.INTEGRATION_LOST: "✖",
    Problem.PADDLE_EXPIRED: "✖",
    Problem.FAILING: "⚠",
    Problem.STALE: "◷",
    Problem.PADDLE_EXPIRING: "⚠",
    Problem.PAUSED: "‖",
    Problem.PENDING: "…",
    Problem.OK: "✔",
}
CSS = {
    Problem.CREDENTIAL_REJECTED: "text-bg-danger",
    Problem.NOT_FOUND: "text-bg-danger",
    Problem.DISCONNECTED: "text-bg-danger",
    Problem.INTEGRATION_LOST: "text-bg-danger",
    Problem.PADDLE_EXPIRED: "text-bg-danger",
    Problem.FAILING: "text-bg-warning",
    Problem.STALE: "text-bg-warning",
    Problem.PADDLE_EXPIRING: "text-bg-warning",
    Problem.PAUSED: "text-bg-light border",
    Problem.PENDING: "text-bg-light border",
    Problem.OK: "text-bg-success",
}


def _open_integration_loss(**link: Any) -> Exists:
    """An integration disabled or gone that people were told about (a disable done in the
    dashboard is a notice, not an open problem)."""
    lost = [IntegrationStatus.DISABLED, IntegrationStatus.GONE]
    return Exists(Integration.objects.filter(alert_open=True, status__in=lost, **link))


def _polling_rules(now: datetime) -> list[tuple[Problem, Q]]:
    """The rules every polled source shares, in ORDER."""
    return [
        (Problem.CREDENTIAL_REJECTED, Q(health=Health.CREDENTIAL_REJECTED)),
        (Problem.NOT_FOUND, Q(health=Health.NOT_FOUND)),
        (Problem.FAILING, Q(health=Health.FAILING)),
        # A paused source goes stale by design; it shows as paused instead.
        (Problem.STALE, Q(enabled=True, stale_after__lt=now)),
        (Problem.PAUSED, Q(enabled=False)),
        (Problem.PENDING, Q(health=Health.PENDING)),
    ]


def site_rules(now: datetime) -> list[tuple[Problem, Q]]:
    paddle_watched = ~Q(paddle_expiry_state="none") & Q(paddle_key_expires_at__isnull=False)
    return [
        *_polling_rules(now),
        (Problem.DISCONNECTED, Q(has_disconnect=True)),
        (Problem.PADDLE_EXPIRED, paddle_watched & Q(paddle_key_expires_at__lte=now)),
        (Problem.PADDLE_EXPIRING, paddle_watched & Q(paddle_key_expires_at__lte=now + PADDLE_WARNING)),
    ]


def key_rules(now: datetime) -> list[tuple[Problem, Q]]:
    return [*_polling_rules(now), (Problem.INTEGRATION_LOST, Q(_open_integration_loss(seen_by=OuterRef("pk"))))]


def organisation_rules(now: datetime) -> list[tuple[Problem, Q]]:
    """An organisation has no polling of its own: it is as fresh as the best key that reaches it."""
    working_key = KeyOrganisation.objects.filter(
        organisation=OuterRef("pk"), key__enabled=True, key__health=Health.OK, key__stale_after__gte=now
    )
    any_polled_key = KeyOrganisation.objects.filter(organisation=OuterRef("pk")).exclude(key__health=Health.PENDING)
    return [
        (Problem.INTEGRATION_LOST, Q(_open_integration_loss(organisation=OuterRef("pk")))),
        (Problem.STALE, Q(Exists(any_polled_key)) & ~Q(Exists(working_key))),
        (Problem.PENDING, ~Q(Exists(any_polled_key))),
    ]


def rank_expression(rules: Iterable[tuple[Problem, Q]]) -> Case:
    ordered = sorted(rules, key=lambda rule: RANK[rule[0]])
    return Case(
        *[When(condition, then=Value(RANK[problem])) for problem, condition in ordered],
        default=Value(RANK[Problem.OK]),
        output_field=models.PositiveSmallIntegerField(),
    )


RULES = {DataFastSite: site_rules, ChargebackStopKey: key_rules, Organisation: organisation_rules}
M = TypeVar("M", DataFastSite, ChargebackStopKey, Organisation)


def with_problem(queryset: QuerySet[M], now: datetime | None = None) -> QuerySet[M]:
    """The queryset with `problem_rank` on each row: the one derivation of a source's problem."""
    rules = RULES[queryset.model]
    return queryset.annotate(problem_rank=rank_expression(rules(now or timezone.now())))


def only(problem: Problem) -> Q:
    """Filter an annotated queryset to one problem."""
    return Q(problem_rank=RANK[problem])


def problem_of(row: Any) -> Problem:
    """The problem of a row that came through `with_problem`."""
    return ORDER[row.problem_rank]


def counts(queryset: QuerySet[Any], now: datetime | None = None) -> dict[str, int]:
    """How many rows have each problem, every problem listed (zeros too), in one GROUP BY."""
    grouped = dict(with_problem(queryset, now).values_list("problem_rank").annotate(total=models.Count("pk")))
    return {problem.value: grouped.get(RANK[problem], 0) for problem in ORDER}


def is_problem(problem: Problem) -> bool:
    return problem not in QUIET


def with_a_problem(by_problem: dict[str, int]) -> int:
    """How many of the rows counted by `counts` have a problem (paused, pending and ok do not)."""
    return sum(count for code, count in by_problem.items() if is_problem(Problem(code)))


def disconnected_labels(cells: Sequence[tuple[str, Any]]) -> list[str]:
    """Provider labels whose state is a disconnect people should hear about: not connected now,
    and either alerted or flapping (the same test the poller stores as `has_disconnect`)."""
    return [label for label, state in cells if state is not None and is_disconnect(state)]


def disconnected_providers(providers: Any) -> list[str]:
    """Labels of the disconnected providers, from a {provider: state} dict, cells in PROVIDERS
    order, or ProviderState rows."""
    if not providers:
        return []
    if not isinstance(providers, dict | list | tuple):  # ProviderState rows (a queryset or manager)
        providers = {state.provider: state for state in providers.all()}
    if isinstance(providers, dict):
        pairs = [(label, providers.get(key)) for key, label in PROVIDERS.items()]
    else:
        pairs = list(zip(PROVIDERS.values(), providers, strict=True))
    return disconnected_labels(pairs)


def is_disconnect(state: Any) -> bool:
    """Not connected now, and people heard of it (an open alert) or it is flapping."""
    return not state.connected and (state.alert_open or state.flapping_since is not None)


# `is_disconnect` as a filter on ProviderState rows.
DISCONNECTED_STATE = Q(connected=False) & (Q(alert_open=True) | Q(flapping_since__isnull=False))


def words(  # noqa: PLR0911 (one sentence per problem reads best)
    problem: Problem, row: Any, *, disconnected: Sequence[str] = (), now: datetime | None = None
) -> str:
    """What is wrong, in the words every page, email and JSON answer uses ("Lemon Squeezy
    disconnected", "Paddle key expired 3 days ago"). `disconnected` names the providers for a site."""
    now = now or timezone.now()
    if problem == Problem.DISCONNECTED:
        if not disconnected:
            return "A payment provider disconnected"
        names = list(disconnected)
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return f"{listed} disconnected"
    if problem == Problem.PADDLE_EXPIRED:
        return f"Paddle key expired {age_words(now - row.paddle_key_expires_at)}"
    if problem == Problem.PADDLE_EXPIRING:
        return f"Paddle key expires {age_words(now - row.paddle_key_expires_at)}"
    if problem == Problem.STALE and getattr(row, "last_success_at", None):
        return f"Stale: last good poll {age_words(now - row.last_success_at)}"
    if problem == Problem.NOT_FOUND and isinstance(row, DataFastSite):
        return "Website not found"
    return str(problem.label)


def paddle_state(watched: bool, expires_at: datetime | None, now: datetime) -> str:
    """none / ok / expiring / expired for a Paddle key: the poller's verdict and the pages' view,
    in the same words as the PADDLE_* rules above."""
    if not watched or expires_at is None:
        return "none"
    if expires_at <= now:
        return "expired"
    if expires_at <= now + PADDLE_WARNING:
        return "expiring"
    return "ok"


def site_paddle_state(site: Any, now: datetime | None = None) -> str:
    """The Paddle state of a stored website now (its expiry may have passed since the last poll)."""
    return paddle_state(site.paddle_expiry_state != "none", site.paddle_key_expires_at, now or timezone.now())


def badge_parts(problem: Problem) -> tuple[str, str]:
    """(css class, icon) of a problem's badge."""
    return CSS[problem], ICONS[problem]


def disconnected_by_site(sites: Sequence[DataFastSite]) -> dict[int, list[str]]:
    """{site pk: labels of its disconnected providers}, in one query."""
    found: dict[int, list[str]] = {}
    rows = ProviderState.objects.filter(DISCONNECTED_STATE, site__in=[site.pk for site in sites])
    for site_id, provider in rows.values_list("site_id", "provider").order_by():
        found.setdefault(site_id, []).append(provider)
    order = list(PROVIDERS)
    return {pk: [PROVIDERS[name] for name in sorted(names, key=order.index)] for pk, names in found.items()}
