"""One-off checks of a credential against its API, for commands and the "test connection" button:
what they share. Each upstream's check is its `check.py`. Checks report what the credential can
see and never raise: an API that is down is a finding too."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings

from integrations_app.models.secret_field import UNREADABLE, SecretUnreadable
from integrations_app.upstream.errors import CredentialError, NotFoundError, TransientError, UpstreamError


@dataclass
class CheckResult:
    ok: bool
    summary: str
    details: list[str] = field(default_factory=list)
    organisation_ids: list[str] = field(default_factory=list)


def explain(error: UpstreamError | SecretUnreadable, *, what: str) -> str:
    if isinstance(error, SecretUnreadable):
        return f"{UNREADABLE}: check FIELD_ENCRYPTION_KEYS, or enter the secret again."
    if isinstance(error, CredentialError):
        meaning = "no access" if error.status == 403 else "bad or revoked credential"
        return f"{what} refused the credential (HTTP {error.status}): {meaning}."
    if isinstance(error, NotFoundError):
        return f"{what} says it does not exist (HTTP 404)."
    if isinstance(error, TransientError):
        return f"{what} did not answer properly ({error.message}); saved anyway, polling will retry."
    return f"{what} gave an unexpected answer: {error.message}"


def deadline() -> float:
    """A check holds a web thread (or a command): it gets a short limit of its own."""
    return time.monotonic() + settings.CONNECTION_CHECK_DEADLINE
