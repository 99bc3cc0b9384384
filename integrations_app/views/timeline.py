"""History timelines: one bar per provider for the last 30 days, like a status page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from integrations_app.models import StatusChange
from integrations_app.models.history import Severity

WINDOW = timedelta(days=30)
WIDTH = 1000  # SVG user units; the bar scales to its container


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    state: str  # up, down, off, unknown
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        words = {"up": "connected", "down": "disconnected", "off": "not connected", "unknown": "not watched yet"}
        return f"{words[self.state]} from {self.start:%d %b %H:%M} to {self.end:%d %b %H:%M}"


@dataclass(frozen=True)
class Timeline:
    provider: str
    label: str
    segments: list[Segment]

    @property
    def summary(self) -> str:
        totals: dict[str, timedelta] = {}
        for segment in self.segments:
            totals[segment.state] = totals.get(segment.state, timedelta()) + (segment.end - segment.start)
        words = {"up": "connected", "down": "disconnected", "off": "not connected", "unknown": "not watched"}
        parts = [f"{words[state]} {_days(spent)}" for state, spent in totals.items()]
        return f"{self.label}, last 30 days: " + ", ".join(parts)


def _days(spent: timedelta) -> str:
    hours = spent.total_seconds() / 3600
    return f"{hours / 24:.1f} days" if hours >= 24 else f"{hours:.0f} h"


def _state(word: str, severity: str) -> str:
    if word == "connected":
        return "up"
    return "down" if severity == Severity.PROBLEM else "off"


def build(
    provider: str,
    label: str,
    *,
    current: bool | None,
    watched_since: datetime,
    changes: Iterable[StatusChange],
    now: datetime,
) -> Timeline:
    """`changes` are this provider's changes inside the window, oldest first."""
    start = now - WINDOW
    changes = list(changes)
    points: list[tuple[datetime, str]] = []
    if watched_since > start:
        points.append((start, "unknown"))
    first_state = (
        _state(changes[0].old, Severity.INFO)
        if changes
        else ("unknown" if current is None else ("up" if current else "off"))
    )
    points.append((max(start, watched_since), first_state))
    points += [(change.at, _state(change.new, change.severity)) for change in changes]
    segments = []
    for index, (at, state) in enumerate(points):
        end = points[index + 1][0] if index + 1 < len(points) else now
        if end <= at:
            continue
        x = (at - start) / WINDOW * WIDTH
        width = (end - at) / WINDOW * WIDTH
        segments.append(Segment(x=round(x, 2), width=round(width, 2), state=state, start=at, end=end))
    return Timeline(provider=provider, label=label, segments=segments)
