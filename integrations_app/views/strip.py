"""The last 24 hours of each overview row, one cell per hour, like Uptime Kuma's heartbeat bar.

Two grouped queries for a whole page of websites, whatever its size (pages keep a constant number
of queries): the poll attempts per site and hour (how many, how many failed), and the problem and
recovery changes of the window. An hour is
  - "down" when a problem was open at any moment of it (a change opened it, or it was open before
    the window and its recovery came later), or the source's problem is open now (the last hour);
  - "warn" when a poll failed in it but no problem was open;
  - "up" when polls succeeded in it;
  - "none" when nothing was polled (paused, not watched yet, or the worker was down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property, lru_cache

from django.db import connection
from django.utils import timezone

from integrations_app.models import DataFastSite, PollAttempt, StatusChange
from integrations_app.models.history import Severity
from integrations_app.problems import is_problem, problem_of

HOURS = 24
WORDS = {"down": "a problem", "warn": "poll errors", "up": "OK", "none": "not polled"}


@dataclass(frozen=True)
class Hour:
    """One cell. The 96 possible ones (4 states of 24 hours) are built once per hour and zone
    (`_window`, cached for every request and thread: a cell is never changed) and shared by every
    row: building 1,200 of them a page, with their labels, was a sixth of the overview's time."""

    start: datetime
    state: str  # down, warn, up, none
    label: str  # "14:00 to 15:00: OK" (with an en dash), built once with the cell: strftime is slow


@dataclass(frozen=True, eq=False)  # compared by identity: rows with the same day share one
class Strip:
    hours: list[Hour]

    @cached_property  # read twice per row (the SVG's label and its title)
    def summary(self) -> str:
        """What a screen reader hears instead of 24 cells."""
        down = sum(hour.state == "down" for hour in self.hours)
        warn = sum(hour.state == "warn" for hour in self.hours)
        if not down and not warn:
            polled = any(hour.state == "up" for hour in self.hours)
            return "Last 24 h: OK" if polled else "Last 24 h: not polled"
        parts = [f"{down} h with a problem"] if down else []
        parts += [f"{warn} h with poll errors"] if warn else []
        return "Last 24 h: " + ", ".join(parts)


def _hour_index(at: datetime, first: datetime) -> int:
    return int((at - first).total_seconds() // 3600)


def _attempts(pks: list[int], first: datetime) -> list[tuple[int, datetime | str, int, int]]:
    """(site pk, hour, attempts, failed) for the window, grouped in SQL. Written as SQL: the ORM took
    1 ms to build this query, five times what it takes to run. The hour on SQLite is the first 13
    characters of the stored UTC text ("2026-11-30 12"), a native function where TruncHour calls
    back into Python for every row; on PostgreSQL, DATE_TRUNC in UTC whatever the connection's zone
    (an aware datetime, as the ORM's TruncHour gave)."""
    if not pks:
        return []
    table = connection.ops.quote_name(PollAttempt._meta.db_table)
    hour = "SUBSTR(started_at, 1, 13)" if connection.vendor == "sqlite" else "DATE_TRUNC('hour', started_at, 'UTC')"
    marks = ", ".join(["%s"] * len(pks))
    sql = (
        f"SELECT site_id, {hour}, COUNT(*), COUNT(*) FILTER (WHERE NOT ok) FROM {table} "  # noqa: S608 (no input)
        f"WHERE site_id IN ({marks}) AND started_at >= %s GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*pks, connection.ops.adapt_datetimefield_value(first)])
        rows: list[tuple[int, datetime | str, int, int]] = cursor.fetchall()
    return rows


def _as_hour(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite: "2026-11-30 12"
        return datetime.strptime(value, "%Y-%m-%d %H").replace(tzinfo=UTC)
    return value


def strips(sites: Sequence[DataFastSite], now: datetime | None = None) -> dict[int, Strip]:
    """{site pk: its strip}."""
    now = now or timezone.now()
    # Whole hours, the last one being the hour now running.
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=HOURS - 1)
    pks = [site.pk for site in sites]
    polls: dict[int, list[list[int]]] = {pk: [[0, 0] for _ in range(HOURS)] for pk in pks}
    cells, index_of = _window(first, timezone.get_current_timezone())
    for site_id, hour, total, failed in _attempts(pks, first):
        found = index_of.get(hour)
        at = _hour_index(_as_hour(hour), first) if found is None else found  # None: a clock moved, an odd zone
        if 0 <= at < HOURS:
            polls[site_id][at][0] += total
            polls[site_id][at][1] += failed
    down = _problem_hours(pks, first)
    result = {}
    # Rows with the same 24 hours (all OK, say) share one Strip: its summary and its SVG
    # (templatetags heartbeat) are then made once, not once per row.
    shared: dict[tuple[str, ...], Strip] = {}
    for site in sites:
        site_down = down[site.pk]
        if is_problem(problem_of(site)):
            site_down.add(HOURS - 1)
        states = tuple(
            "down" if index in site_down else "warn" if failed else "up" if total else "none"
            for index, (total, failed) in enumerate(polls[site.pk])
        )
        if states not in shared:
            shared[states] = Strip([hour[state] for hour, state in zip(cells, states, strict=True)])
        result[site.pk] = shared[states]
    return result


@lru_cache(maxsize=16)  # the same window for every page of the hour, a few zones
def _window(first: datetime, zone: tzinfo) -> tuple[list[dict[str, Hour]], dict[datetime | str, int]]:
    """Every cell a row can have, by hour and state, and the index of each hour as the attempts'
    query gives it (SQLite's "2026-11-30 12" text, PostgreSQL's datetime). Built once per hour
    and zone, not per page (a tenth of the strips' time); both are only read."""
    cells: list[dict[str, Hour]] = []
    index_of: dict[datetime | str, int] = {}
    for index in range(HOURS):
        start = first + timedelta(hours=index)
        local = start.astimezone(zone)
        span = f"{local:%H:%M}–{local + timedelta(hours=1):%H:%M}"
        cells.append({state: Hour(start, state, f"{span}: {words}") for state, words in WORDS.items()})
        # Parsing the query's text with strptime for every row cost more than the query.
        index_of[start] = index
        if start.astimezone(UTC).minute == 0:  # a `now` in a zone off UTC's hours: parsed in strips
            index_of[f"{start.astimezone(UTC):%Y-%m-%d %H}"] = index
    return cells, index_of


def _problem_hours(pks: list[int], first: datetime) -> dict[int, set[int]]:
    """{site pk: indexes of the hours in which a problem was open}, from the window's changes."""
    # Problems and recoveries of the window, oldest first, per site and stream (a provider, the
    # polling health, the Paddle key): a stream's first change tells whether it was open before.
    down: dict[int, set[int]] = {pk: set() for pk in pks}
    streams: dict[tuple[int, str, str], list[tuple[datetime, bool]]] = {}
    changes = (
        StatusChange.objects.filter(site__in=pks, at__gte=first, severity__in=[Severity.PROBLEM, Severity.RECOVERY])
        .values_list("site_id", "kind", "provider", "at", "severity")
        .order_by("at", "id")
    )
    for site_id, kind, provider, at, severity in changes:
        streams.setdefault((site_id, kind, provider), []).append((at, severity == Severity.PROBLEM))
    for (site_id, _, _), events in streams.items():
        opened: datetime | None = None if events[0][1] else first  # a recovery first: open before
        for at, is_opening in events:
            if is_opening and opened is None:
                opened = at
            elif not is_opening and opened is not None:
                down[site_id].update(range(_hour_index(opened, first), _hour_index(at, first) + 1))
                opened = None
        if opened is not None:
            down[site_id].update(range(_hour_index(opened, first), HOURS))
    return down
