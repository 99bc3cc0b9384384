"""Template helpers: times in the configured zone with their age, and status badges that never
rely on colour alone (each carries an icon and a word)."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from functools import cache
from typing import Any, NamedTuple

from django import template
from django.utils import timezone
from django.utils.safestring import SafeData, SafeString, mark_safe

from integrations_app import problems, text
from integrations_app.alerts import acks
from integrations_app.humanize import age_words
from integrations_app.models import DataFastSite, Organisation
from integrations_app.views import clients
from integrations_app.views.history import action_words

register = template.Library()


def _escaped(value: object) -> str:
    """`django.utils.html.conditional_escape` without its lazy-text wrappers: markup (`__html__`)
    as it is, anything else `html.escape`d, as Django does."""
    if type(value) is str:
        return html.escape(value)
    if type(value) is SafeString:  # the rows' own parts, most of what a row joins
        return value
    if type(value) is int:  # pks and counts
        return str(value)
    if isinstance(value, SafeData) or hasattr(value, "__html__"):
        return str(value.__html__())
    return html.escape(str(value))


def _html(template_: str, *args: object, **kwargs: object) -> SafeString:
    """`format_html` for the overview's rows, same escaping: its lazy-text wrappers cost more than
    the rest of a row (some 1,000 calls a page, a third of the overview's time, measured)."""
    return SafeString(
        template_.format(*map(_escaped, args), **{name: _escaped(value) for name, value in kwargs.items()})
    )


BADGES = {
    # state: (css class, icon, word)
    "connected": ("text-bg-success", "✔", "Connected"),
    "not connected": ("text-bg-secondary", "–", "Not connected"),
    "disconnected": ("text-bg-danger", "✖", "Disconnected"),
    "ENABLED": ("text-bg-success", "✔", "Enabled"),
    "DISABLED": ("text-bg-danger", "✖", "Disabled"),
    "GONE": ("text-bg-dark", "⌀", "Gone"),
    "ok": ("text-bg-success", "✔", "OK"),
    "pending": ("text-bg-light border", "…", "Not polled yet"),
    "credential_rejected": ("text-bg-danger", "⊘", "Credential rejected"),
    "not_found": ("text-bg-danger", "?", "Not found"),
    "failing": ("text-bg-warning", "⚠", "Failing to poll"),
    "stale": ("text-bg-warning", "◷", "Stale"),
    "expiring": ("text-bg-warning", "⚠", "Expiring soon"),
    "expired": ("text-bg-danger", "✖", "Expired"),
    "flapping": ("text-bg-warning", "↯", "Flapping"),
    "sent": ("text-bg-success", "✔", "Sent"),
    "failed": ("text-bg-danger", "✖", "Failed"),
    "sending": ("text-bg-info", "…", "Sending"),
    "no_email": ("text-bg-light border", "–", "No email (channels only)"),
    "problem": ("text-bg-danger", "✖", "Problem"),
    "recovery": ("text-bg-success", "✔", "Recovery"),
    "notice": ("text-bg-info", "ℹ", "Notice"),
    "info": ("text-bg-light border", "·", "Info"),
    "acknowledged": ("text-bg-secondary", "☑", "Acknowledged"),
    "unacknowledged": ("text-bg-light border", "☐", "Not acknowledged"),
}


@register.filter
def bdi(value: object) -> SafeString:
    """Text from upstream (integration and organisation names) isolated from the text around it:
    a right-to-left override inside cannot reorder the rest of the line."""
    return _html("<bdi>{}</bdi>", value)


TEST_BADGE = mark_safe(
    ' <span class="badge text-bg-warning" title="A ChargebackStop organisation in TEST mode">TEST</span>'
)


@register.simple_tag
def test_badge() -> SafeString:
    return TEST_BADGE


@register.filter
def organisation(value: Any) -> SafeString:
    """An organisation by name (`bdi`), with a TEST badge when ChargebackStop lists it in TEST mode:
    the one way pages name an organisation."""
    return _html("{}{}", bdi(value), TEST_BADGE if getattr(value, "is_test", False) else "")


@register.filter
def ack_words(ack: Any) -> str:
    """An acknowledgement in the one wording messages use too ("acknowledged by … at …: comment")."""
    return acks.ack_words(ack)


@register.filter
def one_line(value: object) -> str:
    """Upstream text where no markup may go (a title, an attribute): cleaned into one plain line."""
    return text.one_line(str(value))


@register.simple_tag
def badge(state: str, label: str = "", compact: bool = False) -> SafeString:
    """A coloured badge with an icon and a word; `compact` shows only the icon and keeps the word
    for screen readers and as a tooltip (dense tables)."""
    return _badge(str(state), str(label), bool(compact))


@cache  # a few dozen distinct badges, drawn hundreds of times a page
def _badge(state: str, label: str, compact: bool) -> SafeString:
    css, icon, word = BADGES.get(state, ("text-bg-light border", "·", state))
    text = label or word
    if compact:
        return _html(
            '<span class="badge {}" title="{}"><span aria-hidden="true">{}</span>'
            '<span class="visually-hidden">{}</span></span>',
            css,
            text,
            icon,
            text,
        )
    return _html('<span class="badge {}"><span aria-hidden="true">{}</span> {}</span>', css, icon, text)


@register.filter
def age(value: datetime | None) -> str:
    return age_words(timezone.now() - value) if value else ""


@register.simple_tag
def when(value: datetime | None, empty: str = "never") -> SafeString:
    """`12:04 CET, 3 min ago` (with the date when not today), in the configured zone."""
    if value is None:
        return _html('<span class="text-body-secondary">{}</span>', empty)
    local = timezone.localtime(value)
    today = timezone.localtime().date()
    stamp = local.strftime("%H:%M %Z") if local.date() == today else local.strftime("%d %b %Y %H:%M %Z")
    return _html(
        '<time datetime="{}" title="{}">{}, {}</time>',
        value.isoformat(),
        local.strftime("%A %d %B %Y, %H:%M:%S %Z"),
        stamp,
        age_words(timezone.now() - value),
    )


@register.filter
def adds_to(reason: str, summary: str) -> bool:
    """Whether a change's reason says something its summary does not: "enabled outside the
    dashboard" adds nothing to "… enabled again outside the dashboard"."""
    said = set(summary.lower().split())
    return bool(reason) and not set(reason.lower().split()) <= said


@register.filter
def audit_action(code: str) -> str:
    """An audit action in words ("Renamed an integration", not `integration.rename`)."""
    return action_words(code)


@register.filter
def every(value: timedelta) -> str:
    """A poll interval in words: "every 60 s", "every 5 min", "every 2 h"."""
    seconds = int(value.total_seconds())
    if seconds >= 7200 and seconds % 3600 == 0:
        return f"every {seconds // 3600} h"
    if seconds >= 120 and seconds % 60 == 0:
        return f"every {seconds // 60} min"
    return f"every {seconds} s"


@register.filter
def days_until(value: datetime | None) -> int | None:
    if value is None:
        return None
    return (value - timezone.now()).days


@register.filter
def as_fields(value: object) -> str:
    """An audit before/after dict as `name: X · status: Y` (lists joined by commas)."""
    if not isinstance(value, dict):
        return "—" if value is None else str(value)
    parts = []
    for key, item in value.items():
        shown = ", ".join(str(element) for element in item) if isinstance(item, list | tuple) else str(item)
        parts.append(f"{key}: {shown}")
    return " · ".join(parts) or "—"


@register.simple_tag
def provider_cell(state: Any, compact: bool = False) -> SafeString:
    """A provider's state on a website, as a badge. A tag, not an include: the overview draws six
    per row, and an include per cell costs more than the rest of the page."""
    if state is None:
        return _quiet("…", "Not polled yet", compact)
    if state.flapping_since:
        return badge("flapping", compact=compact)
    if state.connected:
        return badge("connected", compact=compact)
    if state.alert_open:
        return badge("disconnected", compact=compact)
    return _quiet("–", "Not connected", compact)


@cache
def _quiet(mark: str, words: str, compact: bool) -> SafeString:
    if compact:
        return _html(
            '<span class="text-body-secondary" title="{}">{}<span class="visually-hidden">{}</span></span>',
            words,
            mark,
            words.lower(),
        )
    return _html('<span class="text-body-secondary">{} {}</span>', mark, words)


@register.filter
def problem(row: Any) -> str:
    """A row's stored problem, as its code ("stale"), for templates that show facts that go with it."""
    return problems.problem_of(row).value


@register.simple_tag
def problem_badge(row: Any, providers: Any = None) -> SafeString:
    """What is wrong with a website, key or organisation, in words ("✖ Lemon Squeezy disconnected").
    `providers` (a site's provider states) names what
    disconnected."""
    return _problem_badge(row, providers, timezone.now())


def _problem_badge(row: Any, providers: Any, now: datetime) -> SafeString:
    problem = problems.problem_of(row)
    # Only a disconnect's words name providers: the other rows need not look at theirs.
    disconnected = problems.disconnected_providers(providers) if problem == problems.Problem.DISCONNECTED else ()
    text = problems.words(problem, row, disconnected=disconnected, now=now)
    return SafeString(f"{_problem_badge_start(problem)}{_escaped(text)}</span>")


@cache  # one per problem; the words after it are the row's own
def _problem_badge_start(problem: problems.Problem) -> SafeString:
    css, icon = problems.badge_parts(problem)
    start = '<span class="badge {}" data-problem="{}"><span aria-hidden="true">{}</span> '
    return _html(start, css, problem.value, icon)


NOTHING = SafeString("")


@register.simple_tag
def ack_badge(row: Any) -> SafeString:
    """ "☑" beside a list row's problem when every open problem of it is acknowledged
    (`alerts.acks.mark_acknowledged`), who and when as its tooltip; nothing otherwise."""
    ack = getattr(row, "acknowledged", None)
    if ack is None:
        return NOTHING
    words = acks.ack_words(ack)
    return _html(
        ' <span class="badge text-bg-secondary" data-acknowledged="{}" title="{}"><span aria-hidden="true">☑</span>'
        '<span class="visually-hidden">{}</span></span>',
        ack.username,
        words,
        words,
    )


@register.simple_tag
def problem_words(row: Any, providers: Any = None) -> str:
    """The words of `problem_badge`, without the badge (the live summary line of a page)."""
    problem = problems.problem_of(row)
    return f"Status: {problems.words(problem, row, disconnected=problems.disconnected_providers(providers))}"


@register.simple_tag
def provider_cells(cells: list[Any]) -> SafeString:
    """A row's six provider cells, as `<td>`s."""
    return SafeString("".join([f"<td>{provider_cell(cell, compact=True)}</td>" for cell in cells]))


@register.simple_tag
def organisation_options(choices: Any, selected: str) -> SafeString:
    """`<option>`s for (pk, label, name, mode, organisation_id) rows; the filter lists every
    organisation by name, TEST ones saying so (an option holds no badge)."""
    # An f-string per option, the name escaped (format_html_join cost 4 ms for 200 options). An
    # option holds no `<bdi>`, so the upstream name is cleaned into one line, as the rows' titles are.
    return SafeString(
        "".join(
            [
                f'<option value="{_escaped(pk)}"{" selected" if str(pk) == selected else ""}>'
                f"{_escaped(text.one_line(label or name or org_id))}{' (TEST)' if mode == 'TEST' else ''}</option>"
                for pk, label, name, mode, org_id in choices
            ]
        )
    )


# The overview draws 50 websites and 50 organisations, refreshed every 30 s. Built in Python, a row
# costs one call; as template markup it costs some 25 node renders, most of the page's time.
# Names are cut with an ellipsis by CSS (`.name`), the whole name in the title.
SITE_ROW = (
    '<tr>{pick}<th scope="row"><a class="name" href="{url}" title="{title}">{name}</a>{paused}</th>'
    '<td class="status-cell">{status}{strip}</td>{providers}'
    "<td>{currency}</td><td>{paddle}</td><td>{polled}</td></tr>"
)
ORGANISATION_ROW = (
    '<tr>{pick}<th scope="row"><a class="name" href="{url}" title="{title}">{name}</a>{test}{org_id}</th>'
    '<td class="status-cell">{status}</td><td>✔ {enabled}</td><td>{disabled}</td><td>{gone}</td></tr>'
)


@register.simple_tag
def paddle_badge(site: Any) -> SafeString:
    """ "Expired" or "Expiring soon" for a website's Paddle key as of now, or nothing."""
    state = problems.site_paddle_state(site)
    return badge(state) if state in ("expired", "expiring") else NOTHING


class Clock(NamedTuple):
    """The time and the reader's zone, read once per table: `timezone.now()` and the active zone
    (a thread-local look-up) read for every cell were some 2 ms of the overview."""

    now: datetime
    zone: tzinfo

    @classmethod
    def read(cls) -> Clock:
        return cls(timezone.now(), timezone.get_current_timezone())


def _stamp(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).strftime("%A %d %B %Y, %H:%M:%S %Z")


def _days(delta: timedelta) -> str:
    """A compact span: "4 d", "5 h", "12 min"."""
    seconds = abs(int(delta.total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400} d"
    if seconds >= 3600:
        return f"{seconds // 3600} h"
    return f"{max(seconds // 60, 1)} min"


def _paddle(site: Any, clock: Clock) -> SafeString:
    """Compact: "✖ 3 d ago" (expired), "⚠ 4 d" (expiring), "in 40 d", with the date as a tooltip."""
    expires = site.paddle_key_expires_at
    if not expires:
        return NO_PADDLE_KEY
    state = problems.site_paddle_state(site, clock.now)
    left = expires - clock.now
    if state == "expired":
        shown, title = _html(_BADGE, "text-bg-danger", "✖", f"{_days(left)} ago"), "Paddle key expired"
    elif state == "expiring":
        shown, title = _html(_BADGE, "text-bg-warning", "⚠", _days(left)), "Paddle key expires"
    else:
        shown, title = _html("in {}", _days(left)), "Paddle key expires"
    stamp = _stamp(expires, clock.zone)
    return _html('<time datetime="{}" title="{} {}">{}</time>', expires.isoformat(), title, stamp, shown)


NO_PADDLE_KEY = SafeString("—")


_BADGE = '<span class="badge {}"><span aria-hidden="true">{}</span> {}</span>'


def short_when(value: datetime | None, clock: Clock) -> SafeString:
    """ "3 min ago", the full time as a tooltip: for dense tables."""
    if value is None:
        return NEVER
    return _html(
        '<time datetime="{}" title="{}">{}</time>',
        value.isoformat(),
        _stamp(value, clock.zone),
        age_words(clock.now - value),
    )


NEVER = SafeString('<span class="text-body-secondary">never</span>')


def heartbeat(strip: Any) -> SafeString:
    """A row's last 24 h, one cell per hour (integrations_app/strip.py), as a small inline SVG;
    a screen reader hears its summary, not 24 cells. Our own words only: nothing to escape."""
    cells = "".join(
        f'<rect class="{hour.state}" x="{index * 4}" width="3" height="10"><title>{hour.label}</title></rect>'
        for index, hour in enumerate(strip.hours)
    )
    return mark_safe(  # noqa: S308 (built from our own words and numbers)
        f'<svg class="strip" viewBox="0 0 95 10" role="img" aria-label="{strip.summary}">'
        f"<title>{strip.summary}</title>{cells}</svg>"
    )


def _pick(name: str, pk: int, label: str) -> SafeString:
    """A row's checkbox for "Move to project": it belongs to the form above the live region (the
    `form` attribute), so a refresh of the rows keeps neither the form nor its choice inside."""
    return _html(
        '<td class="pick"><input class="form-check-input" type="checkbox" form="move-form" name="{}" value="{}" '
        'aria-label="Select {}"></td>',
        name,
        pk,
        text.one_line(label),
    )


# A website its token no longer lists (datafast/discovery.py): still watched, and said so.
UNLISTED = mark_safe(
    ' <span class="badge text-bg-warning" title="Its DataFast token no longer lists it">no longer listed</span>'
)
PAUSED = SafeString(' <span class="badge text-bg-light border">paused</span>')
GROUP_ROW = '<tr class="client-group"><th scope="colgroup" colspan="{}">{}</th></tr>'


def _with_groups(rows: list[SafeString], keys: list[Any], columns: int) -> SafeString:
    """`rows` with a header row before each new client (views/clients.py annotates the rows)."""
    out: list[str] = []
    previous: tuple[int, str] | None = None
    for row, key in zip(rows, keys, strict=True):
        group = (key.client_kind, key.client_name)
        if group != previous:
            out.append(_html(GROUP_ROW, columns, clients.heading(key)))
            previous = group
        out.append(row)
    return mark_safe("\n".join(out))  # noqa: S308 (each part built by _html)


_PK_MARKER = 9876543210  # stands for the pk in the one URL a table asks for


def _row_link(model: type[DataFastSite | Organisation]) -> Callable[[int], str]:
    """`row.get_absolute_url()` for every row of a table: asked once, of a row whose pk is a marker,
    and the marker replaced by each row's pk (a `reverse` per row was some 2 ms of the overview).
    The pk is the last thing in the path, hence `rpartition`."""
    url = model(pk=_PK_MARKER).get_absolute_url()
    prefix, marker, suffix = url.rpartition(str(_PK_MARKER))
    assert marker, f"{model.__name__}'s path does not end with its pk"  # else every row would link wrongly
    return lambda pk: f"{prefix}{pk}{suffix}"


@register.simple_tag
def site_rows(
    rows: list[tuple[Any, list[Any]]], strips: dict[int, Any], selectable: bool = False, grouped: bool = False
) -> SafeString:
    link = _row_link(DataFastSite)
    clock = Clock.read()
    drawn = {strip: heartbeat(strip) for strip in set(strips.values())}  # rows share strips (views/strip.py)
    built = [
        _html(
            SITE_ROW,
            pick=_pick("sites", site.pk, site.name) if selectable else "",
            url=link(site.pk),
            name=site.name,
            title=text.one_line(site.name),
            paused=(UNLISTED if site.unlisted_since else NOTHING) + (NOTHING if site.enabled else PAUSED),
            status=_problem_badge(site, cells, clock.now) + ack_badge(site),
            strip=drawn[strips[site.pk]],
            providers=provider_cells(cells),
            currency=site.currency or "—",
            paddle=_paddle(site, clock),
            polled=short_when(site.last_polled_at, clock),
        )
        for site, cells in rows
    ]
    if grouped:
        return _with_groups(built, [site for site, _ in rows], 12 if selectable else 11)
    return mark_safe("\n".join(built))  # noqa: S308 (each row built by _html)


@register.simple_tag
def organisation_rows(organisations: Any, selectable: bool = False, grouped: bool = False) -> SafeString:
    listed = list(organisations)
    link = _row_link(Organisation)
    now = timezone.now()
    built = [
        _html(
            ORGANISATION_ROW,
            pick=_pick("organisations", organisation.pk, str(organisation)) if selectable else "",
            url=link(organisation.pk),
            name=bdi(organisation),
            test=TEST_BADGE if organisation.is_test else "",
            title=text.one_line(str(organisation)),
            org_id=_html(' <small class="text-body-secondary">{}</small>', bdi(organisation.organisation_id))
            if organisation.label
            else "",
            status=_problem_badge(organisation, None, now) + ack_badge(organisation),
            enabled=organisation.enabled,
            disabled=_html('<strong class="text-danger">✖ {}</strong>', organisation.disabled)
            if organisation.disabled
            else 0,
            gone=f"⌀ {organisation.gone}" if organisation.gone else 0,
        )
        for organisation in listed
    ]
    if grouped:
        return _with_groups(built, listed, 6 if selectable else 5)
    return mark_safe("\n".join(built))  # noqa: S308 (each row built by _html)


@register.simple_tag
def sort_header(column: Any, extra_class: str = "") -> SafeString:
    """A sortable column header: a link that sorts by it, and aria-sort on the sorted one."""
    return _html(
        '<th scope="col"{}{}><a class="sort" href="{}">{} <span aria-hidden="true">{}</span></a></th>',
        _html(' class="{}"', extra_class) if extra_class else "",
        _html(' aria-sort="{}"', column.aria_sort) if column.aria_sort else "",
        column.href,
        column.label,
        column.arrow,
    )


@register.filter
def minutes(value: timedelta | None) -> int:
    """A duration in whole minutes, rounded up (a lockout of 14 min 30 s reads "15")."""
    return 0 if value is None else -(-int(value.total_seconds()) // 60)


@register.filter
def more_than(items: list[Any] | None, shown: int) -> str:
    """How many of `items` a page leaves out when it shows the first `shown` ("4,950"), or ""."""
    left = len(items or []) - shown
    return f"{left:,}" if left > 0 else ""


@register.simple_tag
def page_range(page: Any, noun: str) -> str:
    """ "13 websites", or "1–50 of 60 websites" when they take more than one page."""  # noqa: RUF002
    total = page.paginator.count
    if page.paginator.num_pages <= 1:
        return f"{total} {noun}{'' if total == 1 else 's'}"
    return f"{page.start_index()}–{page.end_index()} of {total} {noun}s"
