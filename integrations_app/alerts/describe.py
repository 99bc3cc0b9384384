"""Plain-words descriptions of state changes, shared by alert emails and history pages. The
sentences are the upstreams' own (`<package>/words.py`); the kinds every upstream shares (health,
flapping) are worded here with them."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from integrations_app import upstreams
from integrations_app.models import StatusChange
from integrations_app.models.history import ChangeKind


@dataclass(frozen=True)
class Described:
    summary: str
    severity: str
    url: str


def with_relations(changes: QuerySet[StatusChange]) -> QuerySet[StatusChange]:
    return changes.select_related(*upstreams.CHANGE_LINKS, "actor", "folded_into")


def _capital(text: str) -> str:
    return f"{text[0].upper()}{text[1:]}" if text else text


def summary(change: StatusChange) -> str:
    words = upstreams.of_change(change).words
    thing = words.thing(change)
    if change.kind == ChangeKind.SOURCE_HEALTH:
        # Nothing was wrong before a first answer: no "again" about it.
        state = "first" if (change.old, change.new) == ("pending", "ok") else change.new
        return words.HEALTH.get(state, "{name}: " + change.new).format(name=thing)
    if change.kind == ChangeKind.STILL_BROKEN:
        return f"Still broken after the silence: {thing} ({change.new})"
    if change.kind == ChangeKind.FLAPPING:
        if change.old:
            return f"{_capital(thing)} is flapping; alerts paused until it settles"
        return f"{_capital(thing)} stopped flapping and settled as {change.new}"
    return words.summary(change) or f"{thing}: {change.old} → {change.new}"


def page(change: StatusChange) -> str:
    """The path of the page of the most specific thing the change links to."""
    for name in upstreams.of_change(change).change_links:
        if (target := getattr(change, name)) is not None:
            path: str = target.get_absolute_url()
            return path
    return "/"


def link(change: StatusChange) -> str:
    """The page of the most specific thing the change links to, as a full URL (for messages)."""
    return settings.SITE_URL + page(change)


def describe(change: StatusChange) -> Described:
    return Described(summary=summary(change), severity=change.severity, url=link(change))
