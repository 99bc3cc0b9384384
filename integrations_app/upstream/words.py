"""Poll errors in plain words, for pages."""

from __future__ import annotations

from integrations_app.models.secret_field import UNREADABLE
from integrations_app.models.sources import PolledSource

TRANSIENT = {"timeout", "connection", "server_error", "rate_limited"}


def last_error(source: PolledSource, upstream: str) -> str:  # noqa: PLR0911 (one answer per error kind)
    kind, status = source.last_error_kind, source.last_error_status
    if not kind:
        return ""
    if kind == "credential":
        if status == 403:
            return "no access to this website" if upstream == "DataFast" else "key not allowed (403)"
        return "token rejected" if upstream == "DataFast" else "key rejected (401)"
    if kind == "not_found":
        return "website not found" if upstream == "DataFast" else "not found (404)"
    if kind in TRANSIENT:
        detail = {"timeout": "timed out", "connection": "connection failed", "rate_limited": "rate limited"}
        return f"{upstream} did not answer ({detail.get(kind, f'HTTP {status}' if status else 'server error')})"
    if kind == "schema":
        return f"{upstream} sent an answer Paystatus could not read"
    if kind == "incomplete":
        return f"{upstream} sent an incomplete listing: what is missing cannot be watched"
    if kind == "secret_unreadable":
        return f"{UNREADABLE} (check FIELD_ENCRYPTION_KEYS, or enter the secret again)"
    return f"{upstream} refused the request (HTTP {status})" if status else kind
