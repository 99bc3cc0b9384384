"""DataFast's credential checks: a token against one website, or against a few of its account's."""

from __future__ import annotations

from integrations_app.datafast.client import PROVIDERS, DataFastClient
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.check import CheckResult, deadline, explain
from integrations_app.upstream.errors import CredentialError, UpstreamError
from integrations_app.upstream.secret import Secret


def check_datafast(token: Secret, website_id: str) -> CheckResult:
    try:
        result = DataFastClient(token, deadline=deadline()).website_integrations(website_id)
    except (UpstreamError, SecretUnreadable) as error:  # a stored secret decrypts only here
        return CheckResult(False, explain(error, what="DataFast"))
    connected = [name for key, name in PROVIDERS.items() if result.connected[key]]
    details = [f"Connected: {', '.join(connected) or 'none'}", f"Currency: {result.currency}"]
    if result.paddle_key_expires_at:
        details.append(f"Paddle key expires: {result.paddle_key_expires_at:%Y-%m-%d %H:%M %Z}")
    return CheckResult(True, "DataFast accepted the token and the website is reachable.", details)


ACCOUNT_CHECK_SITES = 3  # a token is tested against a few of its websites, not all of them


def check_datafast_account(token: Secret, website_ids: list[str]) -> CheckResult:
    """A DataFast token is tested against its websites (the integrations endpoint is what it polls)."""
    if not website_ids:
        return CheckResult(True, "No website on this account yet: the token is tested when you add one.")
    tried = website_ids[:ACCOUNT_CHECK_SITES]
    client = DataFastClient(token, deadline=deadline())  # one deadline for every website tried
    for website_id in tried:
        try:
            client.website_integrations(website_id)
        except CredentialError as error:
            return CheckResult(False, explain(error, what="DataFast") + f" (website {website_id})")
        except (UpstreamError, SecretUnreadable) as error:
            return CheckResult(False, explain(error, what="DataFast"))
    return CheckResult(True, f"DataFast accepted the token for {len(tried)} of its {len(website_ids)} websites.")
