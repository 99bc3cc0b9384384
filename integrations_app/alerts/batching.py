"""Turn unsent state changes into alerts. Changes are claimed with a conditional update
(`WHERE alert IS NULL`), so two senders can never put one change into two emails. In the same
transaction each channel that takes some of the alert's changes (`policy.route`) gets one
`Delivery` holding them: one message per channel for the changes of one cycle."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min

from integrations_app.alerts import folding, policy
from integrations_app.models import Alert, Delivery, StatusChange

# A poll cycle's changes arrive over a few seconds: wait until none has come for GROUP_QUIET
# (or the oldest has waited GROUP_MAX_WAIT) and send them all as one email.
GROUP_QUIET = timedelta(seconds=3)
GROUP_MAX_WAIT = timedelta(seconds=30)
MAX_CHANGES_PER_ALERT = 500


def batch_pending(now: datetime, *, wait: bool = True) -> Alert | None:
    window = StatusChange.objects.unsent().aggregate(newest=Max("at"), oldest=Min("at"))
    if window["newest"] is None:
        # Nothing on its way: causes whose recoveries were held may have settled meanwhile.
        return folding.close_settled(now)
    if wait and now - window["newest"] < GROUP_QUIET and now - window["oldest"] < GROUP_MAX_WAIT:
        return None
    with transaction.atomic():
        alert = Alert.objects.create(created_at=now, next_attempt_at=now, recipients=policy.recipients())
        ids = list(StatusChange.objects.unsent().order_by("at").values_list("id", flat=True)[:MAX_CHANGES_PER_ALERT])
        claimed = StatusChange.objects.filter(id__in=ids, alert__isnull=True).update(alert=alert)
        if claimed == 0:
            alert.delete()
            return None
        folding.fold(alert, now)  # one cause, one line; a change told already leaves this alert
        if not alert.changes.exists():
            alert.delete()
            return None
        route(alert, now)
    return alert


def route(alert: Alert, now: datetime) -> list[Delivery]:
    """One delivery per channel that takes some of the alert's changes (a constant number of
    queries however many changes and channels)."""
    routed = policy.route(list(alert.changes.order_by("at", "pk")))
    deliveries = Delivery.objects.bulk_create(
        [Delivery(alert=alert, channel=channel, created_at=now, next_attempt_at=now) for channel in routed]
    )
    Through = Delivery.changes.through
    Through.objects.bulk_create(
        [
            Through(delivery_id=delivery.pk, statuschange_id=change.pk)
            for delivery, changes in zip(deliveries, routed.values(), strict=True)
            for change in changes
        ]
    )
    return deliveries
