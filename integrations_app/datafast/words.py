"""DataFast's sentences: its websites' health, its errors and its changes (providers, Paddle key
expiry), for pages, alert emails and the credential check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from integrations_app import problems
from integrations_app.datafast.client import PROVIDERS
from integrations_app.models import StatusChange
from integrations_app.models.history import ChangeKind, Severity

# A website's health moves (StatusChange.new), with its name for {name}.
HEALTH = {
    "first": "{name} answered its first poll",
    "credential_rejected": "DataFast refused the token for {name}",
    "not_found": "DataFast says website {name} does not exist",
    "failing": "DataFast has not answered properly for {name} for over 3 poll intervals",
    "ok": "{name} is polled normally again",
    "pending": "{name} is waiting for its first poll",
}
# The causes several websites' changes are folded into (alerts/folding.py).
CAUSES = {
    "credential": "DataFast refused the token of account “{credential}” ({sources}: {names})",
    "credential_recovery": "DataFast accepts the token of account “{credential}” again ({sources})",
    "outage": "DataFast is not answering ({sources})",
    "outage_recovery": "DataFast is answering again ({sources})",
}
# The short words for a poll error on a website's page (upstream.words.last_error).
ERRORS = {
    "credential": "token rejected",
    "credential_403": "no access to this website",
    "not_found": "website not found",
}


def disconnected(rows: Sequence[Any]) -> dict[int, list[str]]:
    """{website pk: its disconnected providers}, which a website's problem words name."""
    return problems.disconnected_by_site(rows)


def provider_name(provider: str) -> str:
    return PROVIDERS.get(provider, provider)


def thing(change: StatusChange) -> str:
    """What the change is about: "Stripe on Acme Store", or the website."""
    if change.provider and change.site:
        return f"{provider_name(change.provider)} on {change.site.name}"
    return change.site.name if change.site else ""


def summary(change: StatusChange) -> str | None:
    """The sentence for a change only DataFast has; None for the kinds every upstream shares."""
    site = change.site.name if change.site else ""
    if change.kind == ChangeKind.PROVIDER:
        if change.new == "not connected":
            return f"{provider_name(change.provider)} disconnected on {site}"
        verb = "reconnected" if change.severity == Severity.RECOVERY else "connected"
        return f"{provider_name(change.provider)} {verb} on {site}"
    if change.kind == ChangeKind.LISTING:
        account = change.site.account.name if change.site else ""
        if change.new == "unlisted":
            return f"{site} is no longer listed by the token of {account} (still watched)"
        return f"{site} is listed by the token of {account} again"
    if change.kind == ChangeKind.PADDLE_EXPIRY:
        words = {
            "expiring": f"Paddle API key for {site} expires within 14 days",
            "expired": f"Paddle API key for {site} has expired",
        }
        return words.get(change.new, f"Paddle API key for {site} is no longer close to expiry")
    return None
