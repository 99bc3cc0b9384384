"""Changes to CUSTOM_ORDERS integrations made in the dashboard: create, rename, disable.

Each action asks ChargebackStop first, then updates the local rows in one transaction, so the
pages show the new state at once instead of after the next poll. `changed_here_at` is stamped
with the time the answer arrived: a poll that started before it read a listing that may predate
the change, and polling skips the row rather than undo it. Every attempt, failed or not, is
audited; upstream failures are re-raised as the typed errors for the views to explain.

Rename and disable claim the integration first (`_claimed`, a conditional UPDATE on the state the
user saw and on `action_until`), so five concurrent POSTs send one PATCH and record one change;
create is made once by its form's one-time token instead (views.manage, FormSubmission).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from integrations_app import audit
from integrations_app.alerts.changes import record_change
from integrations_app.chargebackstop.client import ChargebackStopClient
from integrations_app.chargebackstop.client import Integration as Remote
from integrations_app.chargebackstop.models import IntegrationStatus
from integrations_app.models import ChargebackStopKey, Integration, KeyOrganisation, Organisation, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.errors import UpstreamError


class ActionRefused(Exception):
    """Refused here, before any request: the change is not possible, or no key can make it.
    `field` names the form field the refusal concerns ("" for none)."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def why_not_rename(integration: Integration) -> str:
    """Why this integration cannot be renamed through the API ("" when it can)."""
    if not integration.is_custom_orders:
        return f"Only CUSTOM_ORDERS integrations can be renamed through the API; this one is {integration.type}."
    if integration.status == IntegrationStatus.GONE:
        return "This integration is no longer listed by ChargebackStop, so it cannot be renamed."
    return ""


def why_not_disable(integration: Integration) -> str:
    """Why this integration cannot be disabled through the API ("" when it can)."""
    if not integration.is_custom_orders:
        return f"Only CUSTOM_ORDERS integrations can be disabled through the API; this one is {integration.type}."
    if integration.status != IntegrationStatus.ENABLED:
        return f"Only enabled integrations can be disabled; this one is {integration.get_status_display().lower()}."
    return ""


# Longer than any PATCH may take (its deadline), so a claim outlives the request that holds it;
# a request killed mid-way leaves a claim that simply runs out.
ACTION_CLAIM = timedelta(minutes=2)


@contextmanager
def _claimed(
    integration: Integration, expected: dict[str, Any], why_not: Callable[[Integration], str]
) -> Iterator[None]:
    """Hold the integration for one dashboard change, or refuse: another request holds it, or it
    is no longer as the user saw it (`expected`). Released when the change is over, either way."""
    now = timezone.now()
    free = Q(action_until__isnull=True) | Q(action_until__lt=now)
    if not Integration.objects.filter(free, pk=integration.pk, **expected).update(action_until=now + ACTION_CLAIM):
        integration.refresh_from_db()
        raise ActionRefused(
            why_not(integration)
            or "Another change to this integration is under way in the dashboard, or has just been made; "
            "its page shows the result."
        )
    try:
        yield
    finally:
        Integration.objects.filter(pk=integration.pk).update(action_until=None)


def key_for(integration: Integration) -> ChargebackStopKey:
    """The key that last listed the integration if it is enabled, else any enabled key that
    reaches its organisation (the most recently confirmed link first)."""
    if integration.seen_by is not None and integration.seen_by.enabled:
        return integration.seen_by
    link = (
        KeyOrganisation.objects.filter(organisation_id=integration.organisation_id, key__enabled=True)
        .select_related("key")
        .order_by(F("last_seen_at").desc(nulls_last=True), "key__name")
        .first()
    )
    if link is None:
        raise ActionRefused(
            f"No enabled ChargebackStop key reaches organisation {integration.organisation.organisation_id}; "
            "enable or add one on the Credentials page first."
        )
    return link.key


def _client(key: ChargebackStopKey) -> ChargebackStopClient:
    try:
        key.secret.reveal()  # decrypted now, so an unreadable key is refused before any request
    except SecretUnreadable:
        raise ActionRefused(
            f"The stored secret of the key “{key}” cannot be decrypted with FIELD_ENCRYPTION_KEYS; "
            "enter the key again on the Credentials page.",
            field="key",
        ) from None
    return ChargebackStopClient(key.secret)


def _facts(name: str, status: str, merchant_ids: Sequence[str]) -> dict[str, Any]:
    return {"name": name, "status": status, "merchant_ids": list(merchant_ids)}


def _audit_failure(user: User, action: str, target: str, error: UpstreamError, *, before: Any, after: Any) -> None:
    audit.record(
        user,
        action,
        target,
        before=before,
        after=after,
        ok=False,
        upstream_status=error.status,
        upstream_answer={"error": error.kind, "code": error.code, "message": error.message},
    )


def _dashboard_change(user: User, verb: str) -> str:
    return f"{verb} by {user.get_username()} in the dashboard"


def create_integration(
    user: User,
    key: ChargebackStopKey,
    *,
    organisation_id: str,
    name: str,
    status: str,
    merchant_ids: list[str],
) -> Integration:
    requested = {"organisation_id": organisation_id, **_facts(name, status, merchant_ids)}
    client = _client(key)
    try:
        remote = client.create_integration(
            organisation_id=organisation_id, name=name, merchant_ids=list(merchant_ids), status=status
        )
    except UpstreamError as error:
        target = f"organisation {organisation_id}"
        _audit_failure(user, "integration.create", target, error, before=None, after=requested)
        raise
    now = timezone.now()
    with transaction.atomic():
        organisation = _learn(key, remote)
        fields = {
            "organisation": organisation,
            "seen_by": key,
            "name": remote.name,
            "type": remote.type,
            "status": remote.status,
            "merchant_ids": list(remote.merchant_ids),
            "since": now,
            "last_seen_at": now,
            "changed_here_at": now,
        }
        integration, created = Integration.objects.update_or_create(
            integration_id=remote.id, defaults=fields, create_defaults={**fields, "first_seen_at": now}
        )
        appeared = {"reason": _dashboard_change(user, "created"), "actor": user}
        # A poll running at the same moment may have inserted the row first: then its
        # "appeared" change gets our name rather than a second one being written.
        if created or not StatusChange.objects.filter(
            integration=integration, kind=ChangeKind.INTEGRATION_APPEARED, actor=None
        ).update(**appeared):
            record_change(
                ChangeKind.INTEGRATION_APPEARED,
                Severity.INFO,
                at=now,
                new=remote.status,
                integration=integration,
                organisation=organisation,
                key=key,
                **appeared,
            )
        audit.record(
            user,
            "integration.create",
            f"integration {remote.id}",
            before=None,
            after={
                "organisation_id": organisation.organisation_id,
                **_facts(remote.name, remote.status, remote.merchant_ids),
            },
            upstream_status=client.last_status,
            upstream_answer=remote.raw,
        )
    return integration


def _learn(key: ChargebackStopKey, remote: Remote) -> Organisation:
    """The organisation of a new integration, its merchant IDs, and that this key reaches it."""
    organisation, _ = Organisation.objects.get_or_create(organisation_id=remote.organisation_id)
    known = set(organisation.merchant_ids)
    if not set(remote.merchant_ids) <= known:
        organisation.merchant_ids = sorted(known | set(remote.merchant_ids))
        organisation.save(update_fields=["merchant_ids"])
    KeyOrganisation.objects.get_or_create(key=key, organisation=organisation)
    return organisation


def rename_integration(user: User, integration: Integration, name: str) -> Integration:
    if refusal := why_not_rename(integration):
        raise ActionRefused(refusal)
    key = key_for(integration)
    client = _client(key)
    with _claimed(integration, {"name": integration.name}, why_not_rename):
        return _rename(user, integration, name, key, client)


def _rename(
    user: User, integration: Integration, name: str, key: ChargebackStopKey, client: ChargebackStopClient
) -> Integration:
    target = f"integration {integration.integration_id}"
    before = _facts(integration.name, integration.status, integration.merchant_ids)
    try:
        remote = client.rename_integration(integration.integration_id, name)
    except UpstreamError as error:
        _audit_failure(user, "integration.rename", target, error, before=before, after={**before, "name": name})
        raise
    now = timezone.now()
    old_name = integration.name
    with transaction.atomic():
        # Only the name: a status the answer shows differently is for the next poll to record
        # as a change made outside the dashboard (with its alert), not for us to absorb silently.
        integration.name = remote.name
        integration.changed_here_at = now
        integration.save(update_fields=["name", "changed_here_at"])
        record_change(
            ChangeKind.INTEGRATION_NAME,
            Severity.INFO,
            at=now,
            old=old_name,
            new=remote.name,
            reason=_dashboard_change(user, "renamed"),
            integration=integration,
            organisation=integration.organisation,
            key=key,
            actor=user,
        )
        audit.record(
            user,
            "integration.rename",
            target,
            before=before,
            after={**before, "name": remote.name},
            upstream_status=client.last_status,
            upstream_answer=remote.raw,
        )
    return integration


def disable_integration(user: User, integration: Integration) -> Integration:
    if refusal := why_not_disable(integration):
        raise ActionRefused(refusal)
    key = key_for(integration)
    client = _client(key)
    with _claimed(integration, {"status": IntegrationStatus.ENABLED}, why_not_disable):
        return _disable(user, integration, key, client)


def _disable(user: User, integration: Integration, key: ChargebackStopKey, client: ChargebackStopClient) -> Integration:
    target = f"integration {integration.integration_id}"
    before = _facts(integration.name, integration.status, integration.merchant_ids)
    after = {**before, "status": IntegrationStatus.DISABLED.value}
    try:
        remote = client.disable_integration(integration.integration_id)
    except UpstreamError as error:
        _audit_failure(user, "integration.disable", target, error, before=before, after=after)
        raise
    now = timezone.now()
    with transaction.atomic():
        integration.status = IntegrationStatus.DISABLED
        integration.since = now
        integration.changed_here_at = now
        integration.save(update_fields=["status", "since", "changed_here_at"])
        # A notice naming who did it, never a "disconnected" problem: `alert_open` stays as it
        # is, so no recovery alert follows either, and the next poll sees DISABLED = no change.
        record_change(
            ChangeKind.INTEGRATION_STATUS,
            Severity.NOTICE,
            at=now,
            old=IntegrationStatus.ENABLED,
            new=IntegrationStatus.DISABLED,
            reason=_dashboard_change(user, "disabled"),
            integration=integration,
            organisation=integration.organisation,
            key=key,
            actor=user,
            notify=True,
        )
        audit.record(
            user,
            "integration.disable",
            target,
            before=before,
            after=after,
            upstream_status=client.last_status,
            upstream_answer=remote.raw,
        )
    return integration
