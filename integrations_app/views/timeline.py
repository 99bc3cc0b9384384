"""History timelines: one bar per provider or integration over a window (24 h, 7 d or 30 d),
like a status page, with dates on an axis under the bars so they read without hovering."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from integrations_app.models import StatusChange
from integrations_app.models.history import Severity

WINDOWS = {"24h": timedelta(days=1), "7d": timedelta(days=7), "30d": timedelta(days=30)}
WINDOW_WORDS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days"}
DEFAULT_WINDOW = "30d"
WINDOW = WINDOWS[DEFAULT_WINDOW]  # the longest: what a page needs to read at most
WIDTH = 1000  # SVG user units; the bar scales to its container
# An incident of a few minutes in 30 days is under 0.1 unit wide: draw it at least this wide.
MIN_WIDTH = 4.0
AXIS_TICKS = 5
STATE_WORDS = {"up": "connected", "down": "disconnected", "off": "not connected", "unknown": "not watched yet"}
# The words of a state when the bar is an integration's status.
INTEGRATION_WORDS = {
    "up": "enabled",
    "down": "disabled or gone (alerted)",
    "off": "disabled",
    "unknown": "not seen yet",
}
LEGEND = ("up", "down", "off", "unknown")


def window_of(value: str | None) -> str:
    """The `?range=` of a page, or the default."""
    return value if value in WINDOWS else DEFAULT_WINDOW


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    state: str  # up, down, off, unknown
    start: datetime
    end: datetime
    words: dict[str, str]

    @property
    def label(self) -> str:
        start, end = timezone.localtime(self.start), timezone.localtime(self.end)
        return f"{self.words[self.state]} from {start:%d %b %H:%M} to {end:%d %b %H:%M}"


@dataclass(frozen=True)
class Timeline:
    key: str
    label: str
    segments: list[Segment]
    window: str = DEFAULT_WINDOW
    words: dict[str, str] | None = None

    @property
    def provider(self) -> str:  # the name pages used before integrations had timelines
        return self.key

    @property
    def drawn(self) -> list[Segment]:
        """Long calm stretches first, so that a widened short incident is drawn over them."""
        return sorted(
            self.segments, key=lambda segment: (segment.state == "down", segment.end == self.segments[-1].end)
        )

    @property
    def summary(self) -> str:
        words = self.words or STATE_WORDS
        totals: dict[str, timedelta] = {}
        for segment in self.segments:
            totals[segment.state] = totals.get(segment.state, timedelta()) + (segment.end - segment.start)
        parts = [f"{words[state].removesuffix(' yet')} {_spent(spent)}" for state, spent in totals.items()]
        return f"{self.label}, {WINDOW_WORDS[self.window]}: " + ", ".join(parts)


def _spent(spent: timedelta) -> str:
    hours = spent.total_seconds() / 3600
    if hours >= 24:
        return f"{hours / 24:.1f} days"
    return f"{hours:.0f} h" if hours >= 1 else f"{max(round(hours * 60), 1)} min"


def state_of(word: str, severity: str) -> str:
    """A change's new state on the bar: good words are up; a bad one is down when people were told
    (a problem), grey otherwise (a provider never used, a disable done in the dashboard)."""
    if word in ("connected", "ENABLED"):
        return "up"
    return "down" if severity == Severity.PROBLEM else "off"


def axis(window: str, now: datetime) -> list[str]:
    """Dates under the bars, oldest first: hours for a day, days otherwise."""
    span = WINDOWS[window]
    stamps = [timezone.localtime(now - span + span * index / (AXIS_TICKS - 1)) for index in range(AXIS_TICKS)]
    fmt = "%H:%M" if window == "24h" else "%d %b"
    return [*(stamp.strftime(fmt) for stamp in stamps[:-1]), "now"]


def build(
    key: str,
    label: str,
    *,
    current: str | None,
    watched_since: datetime,
    changes: Iterable[StatusChange],
    now: datetime,
    window: str = DEFAULT_WINDOW,
    words: dict[str, str] | None = None,
) -> Timeline:
    """`changes` are this bar's changes (they may start before the window), oldest first;
    `current` is its state now (up, off, or None when never observed)."""
    span = WINDOWS[window]
    start = now - span
    changes = list(changes)
    before = [change for change in changes if change.at < start]
    changes = [change for change in changes if change.at >= start]
    points: list[tuple[datetime, str]] = []
    if watched_since > start:
        points.append((start, "unknown"))
    if before:
        first_state = state_of(before[-1].new, before[-1].severity)
    elif changes:
        first_state = state_of(changes[0].old, Severity.INFO)
    else:
        first_state = current or "unknown"
    points.append((max(start, watched_since), first_state))
    points += [(change.at, state_of(change.new, change.severity)) for change in changes]
    segments = []
    for index, (at, state) in enumerate(points):
        end = points[index + 1][0] if index + 1 < len(points) else now
        if end <= at:
            continue
        x = (at - start) / span * WIDTH
        width = (end - at) / span * WIDTH
        # An incident (not a quiet grey stretch) and the state now stay visible however short.
        is_now = index == len(points) - 1 and state != "unknown"
        if (state == "down" or is_now) and width < MIN_WIDTH:
            width = MIN_WIDTH
            x = min(x, WIDTH - MIN_WIDTH)
        segments.append(
            Segment(x=round(x, 2), width=round(width, 2), state=state, start=at, end=end, words=words or STATE_WORDS)
        )
    return Timeline(key=key, label=label, segments=segments, window=window, words=words)
