"""Deliver alerts, logging every try. A failed send is retried with backoff; a sender that died
mid-send loses its claim when `claimed_until` passes."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMultiAlternatives
from django.core.mail.message import sanitize_address
from django.db.models import F, Q
from django.utils import timezone

from integrations_app.alerts.batching import batch_pending
from integrations_app.alerts.emails import build_message, fallback_subject
from integrations_app.models import Alert
from integrations_app.text import fit

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
CLAIM_FOR = timedelta(minutes=5)
Status = Alert.Status


@dataclass
class DeliveryReport:
    sent: int = 0  # alerts emailed to the admins (ADMINS)
    failed: int = 0
    channel_sent: int = 0  # deliveries to configured channels
    channel_failed: int = 0


def retry_delay(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def due_alerts(now: datetime) -> list[int]:
    waiting = Q(status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)
    abandoned = Q(status=Status.SENDING, claimed_until__lt=now)
    return list(Alert.objects.filter(waiting | abandoned).order_by("created_at").values_list("pk", flat=True))


def claim(pk: int, now: datetime) -> bool:
    claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(status=Status.SENDING, claimed_until__lt=now)
    updated = Alert.objects.filter(claimable, pk=pk).update(
        status=Status.SENDING, claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1
    )
    return updated == 1


def _checked_message(alert: Alert) -> EmailMultiAlternatives:
    """The alert's message with every header and address checked before any connection: a
    subject the mail library refuses (BadHeaderError) is replaced by a fallback of our own words."""
    message = build_message(alert)
    try:
        check_headers(message)
    except BadHeaderError:
        logger.warning("alert %s: subject refused by the mail library, sending a fallback subject", alert.pk)
        message = build_message(alert, subject=fallback_subject(alert))
        check_headers(message)
    return message


def check_headers(message: EmailMultiAlternatives) -> None:
    """Raise BadHeaderError or ValueError before any connection if the mail library would refuse
    a header or an address of `message` (email channels check theirs here too)."""
    message.message()  # renders every header, raising BadHeaderError on a line break
    for address in [message.from_email, *message.recipients()]:
        sanitize_address(address, message.encoding or settings.DEFAULT_CHARSET)


def deliver(alert: Alert, now: datetime) -> bool:
    if not alert.recipients and alert.deliveries.exists():
        alert.status, alert.error = Status.NO_EMAIL, ""  # its changes went to channels only
        alert.save(update_fields=["status", "error"])
        return True
    if not alert.recipients:
        alert.status, alert.error = Status.FAILED, "No recipients: set ADMINS to a list of email addresses."
        alert.attempts = MAX_ATTEMPTS
        alert.save(update_fields=["status", "error", "attempts"])
        return False
    try:
        message = _checked_message(alert)
    except (BadHeaderError, ValueError) as error:
        # The message itself cannot be made (a header the mail library refuses even with the
        # fallback subject, an address it cannot parse): every retry would fail the same way.
        alert.status, alert.attempts = Status.FAILED, MAX_ATTEMPTS
        alert.error = fit(alert, "error", f"{type(error).__name__}: {error}")
        alert.save(update_fields=["status", "error", "attempts", "subject"])
        logger.error("alert %s cannot be sent, given up: %s", alert.pk, alert.error)
        return False
    try:
        message.send()
    except Exception as error:  # any transport failure: log it on the alert and retry later
        alert.status = Status.FAILED
        alert.error = fit(alert, "error", f"{type(error).__name__}: {error}")
        alert.next_attempt_at = now + retry_delay(alert.attempts)
        alert.save(update_fields=["status", "error", "next_attempt_at", "subject"])
        logger.warning("alert %s failed (attempt %s): %s", alert.pk, alert.attempts, alert.error)
        return False
    alert.status, alert.sent_at, alert.error = Status.SENT, timezone.now(), ""
    alert.save(update_fields=["status", "sent_at", "error", "subject"])
    logger.info("alert %s sent to %d recipients: %s", alert.pk, len(alert.recipients), alert.subject)
    return True


def send_pending_alerts(*, wait: bool = True) -> DeliveryReport:
    """Group waiting changes into an alert (after the grouping window unless `wait=False`),
    then deliver every due alert exactly once per claim, and every due delivery to a channel."""
    from integrations_app.alerts import channels  # it builds on this module's retry rules

    now = timezone.now()
    batch_pending(now, wait=wait)
    report = DeliveryReport()
    for pk in due_alerts(now):
        if not claim(pk, now):
            continue  # another sender has it
        alert = Alert.objects.get(pk=pk)
        if deliver(alert, now):
            report.sent += alert.status == Status.SENT
        else:
            report.failed += 1
    report.channel_sent, report.channel_failed = channels.send_due(now)
    return report
