"""Template helpers: times in the configured zone with their age, and status badges that never
rely on colour alone (each carries an icon and a word)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

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
    "problem": ("text-bg-danger", "✖", "Problem"),
    "recovery": ("text-bg-success", "✔", "Recovery"),
    "notice": ("text-bg-info", "ℹ", "Notice"),
    "info": ("text-bg-light border", "·", "Info"),
}


@register.simple_tag
def badge(state: str, label: str = "", compact: bool = False) -> SafeString:
    """A coloured badge with an icon and a word; `compact` shows only the icon and keeps the word
    for screen readers and as a tooltip (dense tables)."""
    css, icon, word = BADGES.get(state, ("text-bg-light border", "·", state))
    text = label or word
    if compact:
        return format_html(
            '<span class="badge {}" title="{}"><span aria-hidden="true">{}</span>'
            '<span class="visually-hidden">{}</span></span>',
            css,
            text,
            icon,
            text,
        )
    return format_html('<span class="badge {}"><span aria-hidden="true">{}</span> {}</span>', css, icon, text)


def _age(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    if seconds < 60:
        amount = "under a minute" if seconds >= 5 else "just now"
        if amount == "just now":
            return amount
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 86400 * 2:
        amount = f"{seconds // 3600} h {seconds % 3600 // 60} min" if seconds < 86400 else f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} days"
    return f"in {amount}" if delta.total_seconds() < 0 else f"{amount} ago"


@register.filter
def age(value: datetime | None) -> str:
    return _age(timezone.now() - value) if value else ""


@register.simple_tag
def when(value: datetime | None, empty: str = "never") -> SafeString:
    """`12:04 CET, 3 min ago` (with the date when not today), in the configured zone."""
    if value is None:
        return format_html('<span class="text-body-secondary">{}</span>', empty)
    local = timezone.localtime(value)
    today = timezone.localtime().date()
    stamp = local.strftime("%H:%M %Z") if local.date() == today else local.strftime("%d %b %Y %H:%M %Z")
    return format_html(
        '<time datetime="{}" title="{}">{}, {}</time>',
        value.isoformat(),
        local.strftime("%A %d %B %Y, %H:%M:%S %Z"),
        stamp,
        _age(timezone.now() - value),
    )


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
