"""ChargebackStop's sentences: its keys' health, its errors (poll errors, and the API's refusals of
a create, rename or disable, on the form field they concern) and its integrations' changes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from integrations_app.models import StatusChange
from integrations_app.models.history import ChangeKind
from integrations_app.upstream.errors import (
    CredentialError,
    InvalidRequestError,
    NotFoundError,
    SchemaError,
    TransientError,
    UpstreamError,
)

# A key's health moves (StatusChange.new), with its name for {name}.
HEALTH = {
    "first": "The ChargebackStop key {name} answered its first poll",
    "credential_rejected": "ChargebackStop refused the API key {name}",
    "not_found": "ChargebackStop answered 'not found' for the key {name}",
    "failing": "ChargebackStop has not answered properly for the key {name} for over 3 poll intervals",
    "ok": "The ChargebackStop key {name} is polled normally again",
    "pending": "The ChargebackStop key {name} is waiting for its first poll",
}
# The causes several changes are folded into (alerts/folding.py): a key reaches organisations.
CAUSES = {
    "credential": "ChargebackStop refused the API key {credential} (it reaches {sources}: {names})",
    "credential_recovery": "ChargebackStop accepts the API key {credential} again",
    "outage": "ChargebackStop is not answering ({sources})",
    "outage_recovery": "ChargebackStop is answering again ({sources})",
}
# The short words for a poll error on a key's page (upstream.words.last_error).
ERRORS = {
    "credential": "key rejected (401)",
    "credential_403": "key not allowed (403)",
    "not_found": "not found (404)",
}
# The 422 codes the docs list: (form field or "", what it means).
CODE_WORDS = {
    "INVALID_MERCHANT_IDS": (
        "merchant_ids",
        "ChargebackStop says one or more of these merchant IDs do not exist or do not belong to this organisation.",
    ),
    "DUPLICATE_MERCHANT_IDS": ("merchant_ids", "ChargebackStop says this list names a merchant ID more than once."),
    "INVALID_INTEGRATION_TYPE": ("", "ChargebackStop accepts this change for CUSTOM_ORDERS integrations only."),
    "MISSING_UPDATE_FIELDS": ("", "ChargebackStop says the change named nothing to update."),
}
INTEGRATION_STATUS_WORDS = {"DISABLED": "disabled", "GONE": "is gone (no longer listed)", "ENABLED": "enabled again"}


def explain(error: UpstreamError, *, creating: bool) -> tuple[str, str]:
    """(form field or "", plain sentence) for an upstream error answering a create, rename or disable."""
    field, message = "", f"ChargebackStop refused the request: {error.message}."
    if isinstance(error, InvalidRequestError):
        field, message = CODE_WORDS.get(error.code) or (
            error.field,
            f"ChargebackStop refused this value: {error.message}.",
        )
    elif isinstance(error, NotFoundError):
        if creating:
            field, message = "organisation_id", "ChargebackStop cannot find this organisation for this key (404)."
        else:
            message = "ChargebackStop cannot find this integration for this key (404); it may have been deleted."
    elif isinstance(error, CredentialError):
        field = "key"
        message = (
            f"ChargebackStop refused {'this key' if creating else 'the key used for it'} (HTTP {error.status}): it is "
            "revoked or lacks the integrations:write ability. Check it on the Credentials page or use another key."
        )
    elif isinstance(error, TransientError):
        # A POST is never retried automatically: it may have been acted on before the answer was lost.
        outcome = (
            "The integration may or may not have been created: check the organisation page before trying again."
            if creating
            else "Try again; the change may already have been made, and the next poll will show it."
        )
        message = f"ChargebackStop did not answer properly: {error.message}. {outcome}"
    elif isinstance(error, SchemaError):
        message = (
            f"ChargebackStop's answer was not what its documentation describes: {error.message}. The change may "
            "have been made; check the organisation page (the next poll will show it) before trying again."
        )
    return field, message


def disconnected(rows: Sequence[Any]) -> dict[int, list[str]]:
    """Nothing: ChargebackStop's problem words name no provider."""
    return {}


def thing(change: StatusChange) -> str:
    """What the change is about: "integration “Orders” in Acme", or the key."""
    if change.integration:
        return f"integration “{change.integration.name}” in {change.organisation or change.integration.organisation}"
    return str(change.key or "")


def _who(change: StatusChange) -> str:
    if change.actor:
        return f" by {change.actor.get_username()} in the dashboard"
    return " outside the dashboard" if change.outside_dashboard else ""


def summary(change: StatusChange) -> str | None:
    """The sentence for a change only ChargebackStop has; None for the kinds every upstream shares."""
    thing_ = thing(change)
    if change.kind == ChangeKind.INTEGRATION_STATUS:
        words = INTEGRATION_STATUS_WORDS.get(change.new, change.new)
        return f"{thing_[0].upper()}{thing_[1:]} {words}{_who(change)}"
    if change.kind == ChangeKind.INTEGRATION_NAME:
        return f"Integration renamed from “{change.old}” to “{change.new}”{_who(change)}"
    if change.kind == ChangeKind.INTEGRATION_APPEARED:
        return f"New {thing_}"
    return None
