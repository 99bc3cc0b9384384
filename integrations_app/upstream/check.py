"""One-off checks of a credential against its API, for commands and the "test connection" button.
They report what the credential can see and never raise: an API that is down is a finding too."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.conf import settings

from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.datafast.client import PROVIDERS, DataFastClient
from integrations_app.models.secret_field import UNREADABLE, SecretUnreadable
from integrations_app.upstream.errors import CredentialError, NotFoundError, TransientError, UpstreamError
from integrations_app.upstream.secret import Secret


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


def _deadline() -> float:
    """A check holds a web thread (or a command): it gets a short limit of its own."""
    return time.monotonic() + settings.CONNECTION_CHECK_DEADLINE


def check_datafast(token: Secret, website_id: str) -> CheckResult:
    try:
        result = DataFastClient(token, deadline=_deadline()).website_integrations(website_id)
    except (UpstreamError, SecretUnreadable) as error:  # a stored secret decrypts only here
        return CheckResult(False, explain(error, what="DataFast"))
    connected = [name for key, name in PROVIDERS.items() if result.connected[key]]
    details = [f"Connected: {', '.join(connected) or 'none'}", f"Currency: {result.currency}"]
    if result.paddle_key_expires_at:
        details.append(f"Paddle key expires: {result.paddle_key_expires_at:%Y-%m-%d %H:%M %Z}")
    return CheckResult(True, "DataFast accepted the token and the website is reachable.", details)


def check_chargebackstop(api_key: Secret, *, level: str) -> CheckResult:
    try:
        listing = ChargebackStopClient(api_key, deadline=_deadline()).list_integrations()
    except (UpstreamError, SecretUnreadable) as error:  # a stored secret decrypts only here
        return CheckResult(False, explain(error, what="ChargebackStop"))
    organisations = sorted({item.organisation_id for item in listing.integrations})
    details = [
        f"Integrations visible: {listing.count}",
        f"Organisations visible: {', '.join(organisations) or 'none yet (add organisation IDs by hand)'}",
    ]
    if level == "organisation" and len(organisations) > 1:
        details.append("Warning: this looks like a partner key (it sees several organisations).")
    return CheckResult(True, "ChargebackStop accepted the key.", details, organisations)


ACCOUNT_CHECK_SITES = 3  # a token is tested against a few of its websites, not all of them


def check_datafast_account(token: Secret, website_ids: list[str]) -> CheckResult:
    """A DataFast token is tested against its websites (the integrations endpoint is what it polls)."""
    if not website_ids:
        return CheckResult(True, "No website on this account yet: the token is tested when you add one.")
    tried = website_ids[:ACCOUNT_CHECK_SITES]
    client = DataFastClient(token, deadline=_deadline())  # one deadline for every website tried
    for website_id in tried:
        try:
            client.website_integrations(website_id)
        except CredentialError as error:
            return CheckResult(False, explain(error, what="DataFast") + f" (website {website_id})")
        except (UpstreamError, SecretUnreadable) as error:
            return CheckResult(False, explain(error, what="DataFast"))
    return CheckResult(True, f"DataFast accepted the token for {len(tried)} of its {len(website_ids)} websites.")
