"""Plain-words descriptions of state changes, shared by alert emails and history pages."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import StatusChange
from integrations_app.models.history import ChangeKind, Severity

HEALTH_WORDS = {
    "site": {
        "credential_rejected": "DataFast refused the token for {name}",
        "not_found": "DataFast says website {name} does not exist",
        "failing": "DataFast has not answered properly for {name} for over 3 poll intervals",
        "ok": "{name} is polled normally again",
        "pending": "{name} is waiting for its first poll",
    },
    "key": {
        "credential_rejected": "ChargebackStop refused the API key {name}",
        "not_found": "ChargebackStop answered 'not found' for the key {name}",
        "failing": "ChargebackStop has not answered properly for the key {name} for over 3 poll intervals",
        "ok": "The ChargebackStop key {name} is polled normally again",
        "pending": "The ChargebackStop key {name} is waiting for its first poll",
    },
}


@dataclass(frozen=True)
class Described:
    summary: str
    where: str
    severity: str
    url: str


def with_relations(changes: QuerySet[StatusChange]) -> QuerySet[StatusChange]:
    return changes.select_related("site", "key", "integration", "organisation", "actor")


def _thing(change: StatusChange) -> str:
    if change.provider and change.site:
        return f"{PROVIDERS.get(change.provider, change.provider)} on {change.site.name}"
    if change.integration:
        return f"integration “{change.integration.name}” in {change.organisation or change.integration.organisation}"
    return change.site.name if change.site else str(change.key or "")


def _who(change: StatusChange) -> str:
    if change.actor:
        return f" by {change.actor.get_username()} in the dashboard"
    return " outside the dashboard" if change.outside_dashboard else ""


def summary(change: StatusChange) -> str:  # noqa: PLR0911 (one line per kind reads best)
    thing = _thing(change)
    if change.kind == ChangeKind.PROVIDER:
        if change.new == "not connected":
            return f"{PROVIDERS.get(change.provider, change.provider)} disconnected on {change.site.name}"
        verb = "reconnected" if change.severity == Severity.RECOVERY else "connected"
        return f"{PROVIDERS.get(change.provider, change.provider)} {verb} on {change.site.name}"
    if change.kind == ChangeKind.INTEGRATION_STATUS:
        words = {"DISABLED": "disabled", "GONE": "is gone (no longer listed)", "ENABLED": "enabled again"}
        return f"{thing[0].upper()}{thing[1:]} {words.get(change.new, change.new)}{_who(change)}"
    if change.kind == ChangeKind.INTEGRATION_NAME:
        return f"Integration renamed from “{change.old}” to “{change.new}”{_who(change)}"
    if change.kind == ChangeKind.INTEGRATION_APPEARED:
        return f"New {thing}"
    if change.kind == ChangeKind.SOURCE_HEALTH:
        family = "site" if change.site else "key"
        if change.old == "pending" and change.new == "ok":
            # Nothing was wrong before: there is no "again" about a first answer.
            return f"{thing if change.site else 'The ChargebackStop key ' + thing} answered its first poll"
        return HEALTH_WORDS[family].get(change.new, "{name}: " + change.new).format(name=thing)
    if change.kind == ChangeKind.PADDLE_EXPIRY:
        site = change.site.name if change.site else ""
        words = {
            "expiring": f"Paddle API key for {site} expires within 14 days",
            "expired": f"Paddle API key for {site} has expired",
        }
        return words.get(change.new, f"Paddle API key for {site} is no longer close to expiry")
    if change.kind == ChangeKind.FLAPPING:
        if change.old:
            return f"{thing[0].upper()}{thing[1:]} is flapping; alerts paused until it settles"
        return f"{thing[0].upper()}{thing[1:]} stopped flapping and settled as {change.new}"
    return f"{thing}: {change.old} → {change.new}"


def link(change: StatusChange) -> str:
    target = change.integration or change.site or change.organisation or change.key
    return settings.SITE_URL + target.get_absolute_url() if target is not None else settings.SITE_URL + "/"


def describe(change: StatusChange) -> Described:
    where = change.site.name if change.site else str(change.organisation or change.key or "")
    return Described(summary=summary(change), where=where, severity=change.severity, url=link(change))
