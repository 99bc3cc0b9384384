"""Poll errors in plain words, for pages: what every upstream shares. Each upstream's own words
(`<package>/words.py`, `ERRORS`) say what a rejected credential or a 404 means for its sources."""

from __future__ import annotations

from integrations_app.models.secret_field import UNREADABLE
from integrations_app.models.sources import PolledSource

TRANSIENT = {"timeout", "connection", "server_error", "rate_limited"}


def last_error(source: PolledSource, upstream: str, errors: dict[str, str]) -> str:  # noqa: PLR0911 (one answer per error kind)
    """`errors` is the upstream's map of "credential", "credential_403" and "not_found" to words."""
    kind, status = source.last_error_kind, source.last_error_status
    if not kind:
        return ""
    if kind == "credential":
        return errors["credential_403"] if status == 403 else errors["credential"]
    if kind == "not_found":
        return errors["not_found"]
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
