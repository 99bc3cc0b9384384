"""The overview's numbers and lists, built in a constant number of queries whatever the size.

Shared by the overview page and `/api/status.json`, so both always agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from integrations_app.models import DataFastSite, Health, Integration, Organisation
from integrations_app.models.chargebackstop import IntegrationStatus

CREDENTIAL_PROBLEMS = [Health.CREDENTIAL_REJECTED, Health.NOT_FOUND]
PROBLEMS = {
    "disconnect": "With a disconnect",
    "stale": "Stale",
    "credential": "Credential problems",
    "ok": "All connected",
}


@dataclass(frozen=True)
class Summary:
    sites: int
    sites_ok: int
    sites_with_disconnect: int
    sites_stale: int
    sites_with_credential_problem: int
    sites_pending: int
    integrations_enabled: int
    integrations_disabled: int
    integrations_gone: int
    organisations: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def annotated_sites(now: datetime | None = None) -> QuerySet[DataFastSite]:
    now = now or timezone.now()
    return DataFastSite.objects.annotate(
        is_stale_now=Q(stale_after__lt=now) | Q(health=Health.FAILING),
        has_credential_problem=Q(health__in=CREDENTIAL_PROBLEMS),
    )


def problem_filter(problem: str) -> Q:
    if problem == "disconnect":
        return Q(has_disconnect=True)
    if problem == "stale":
        return Q(is_stale_now=True)
    if problem == "credential":
        return Q(has_credential_problem=True)
    if problem == "ok":
        return Q(has_disconnect=False, is_stale_now=False, has_credential_problem=False, health=Health.OK)
    return Q()


def summary(now: datetime | None = None) -> Summary:
    """Counts from two small GROUP BY queries: one pass over the websites, one over the
    integrations (cheaper than one filtered COUNT per number over every row)."""
    now = now or timezone.now()
    stale = ExpressionWrapper(Q(stale_after__lt=now), output_field=BooleanField())
    groups = list(
        DataFastSite.objects.annotate(stale=stale)
        .values("health", "has_disconnect", "stale")
        .annotate(total=Count("pk"))
        .order_by()
    )

    def sites(predicate: Callable[[dict[str, Any]], bool]) -> int:
        return sum(group["total"] for group in groups if predicate(group))

    def is_stale(group: dict[str, Any]) -> bool:
        return bool(group["stale"]) or group["health"] == Health.FAILING

    statuses = dict(Integration.objects.values_list("status").annotate(total=Count("pk")).order_by())
    return Summary(
        sites=sites(lambda group: True),
        sites_ok=sites(
            lambda group: group["health"] == Health.OK and not group["has_disconnect"] and not is_stale(group)
        ),
        sites_with_disconnect=sites(lambda group: group["has_disconnect"]),
        sites_stale=sites(is_stale),
        sites_with_credential_problem=sites(lambda group: group["health"] in CREDENTIAL_PROBLEMS),
        sites_pending=sites(lambda group: group["health"] == Health.PENDING),
        integrations_enabled=statuses.get(IntegrationStatus.ENABLED, 0),
        integrations_disabled=statuses.get(IntegrationStatus.DISABLED, 0),
        integrations_gone=statuses.get(IntegrationStatus.GONE, 0),
        organisations=Organisation.objects.count(),
    )


def count_integrations(organisations: Iterable[Organisation]) -> None:
    """Set `enabled`, `disabled` and `gone` on each organisation, in one grouped query (for a page of
    them: counting in the paged query would make its COUNT(*) join every integration)."""
    by_pk = {organisation.pk: organisation for organisation in organisations}
    for organisation in by_pk.values():
        organisation.enabled = organisation.disabled = organisation.gone = 0
    rows = (
        Integration.objects.filter(organisation__in=by_pk)
        .values("organisation", "status")
        .annotate(total=Count("pk"))
        .order_by()
    )
    for row in rows:
        setattr(by_pk[row["organisation"]], row["status"].lower(), row["total"])
