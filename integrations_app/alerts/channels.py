"""Deliver alerts to channels: one `Delivery` per alert and channel, claimed by a conditional
UPDATE (as alerts are), retried with backoff on failure while the other channels go on.

Messages per kind: a chat channel (Apprise) gets a short form (a title, one line per change with
a link to its page); an email channel gets the alert email (text and HTML, alerts.emails). Both are
built from the same lines (alerts.folding.lines: the changes of one cause are one line) in cleaned
words (text.one_line), and never hold a secret."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import BadHeaderError, send_mail
from django.db.models import F, Q
from django.utils import timezone

from integrations_app.alerts import apprise_send, folding
from integrations_app.alerts.delivery import CLAIM_FOR, MAX_ATTEMPTS, check_headers, retry_delay
from integrations_app.alerts.describe import with_relations
from integrations_app.alerts.emails import SUBJECT_PREFIX, build_email, subject_for
from integrations_app.models import Channel, ChannelKind, Delivery, StatusChange
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.text import cut, fit, one_line

logger = logging.getLogger(__name__)
Status = Delivery.Status
MAX_CHAT_LINES = 50  # a chat message is read at a glance: the rest is on the Alerts page
ICONS = {"problem": "✖", "recovery": "✔", "notice": "•", "info": "•"}


@dataclass(frozen=True)
class ChatMessage:
    title: str
    body: str


def chat_message(changes: list[StatusChange], project_id: int | None = None) -> ChatMessage:
    """A title and one line per change (one per cause for the changes folded into it, as in the
    email; a project's channel hears of its own sources only) with the link to its page, all of
    it cleaned text."""
    told = folding.lines(changes, project_id)
    described = [line.described for line in told]
    title = one_line(subject_for(described).removeprefix(SUBJECT_PREFIX), 200)
    lines = [
        f"{ICONS.get(line.described.severity, '•')} {one_line(line.described.summary, 300)}"
        + (f" ({one_line(line.acknowledged, 400)})" if line.acknowledged else "")
        + f" {one_line(line.described.url)}"
        for line in told[:MAX_CHAT_LINES]
    ]
    if len(described) > MAX_CHAT_LINES:
        lines.append(f"… and {len(described) - MAX_CHAT_LINES} more: {settings.SITE_URL}/alerts/")
    return ChatMessage(title=f"Paystatus: {title}", body="\n".join(lines))


class ChannelError(Exception):
    """A send to a channel failed; plain words, no secret."""


def send_chat(channel: Channel, title: str, body: str) -> None:
    if channel.url is None:
        raise ChannelError("This channel has no URL: edit it and enter one.")
    try:
        apprise_send.send(channel.url, title, body)
    except SecretUnreadable:
        raise ChannelError(
            "The channel's URL cannot be decrypted (its encryption key is gone): enter it again."
        ) from None
    except apprise_send.SendError as error:
        raise ChannelError(str(error)) from None


def send_email(channel: Channel, delivery: Delivery) -> None:
    if not channel.address_list:
        raise ChannelError("This email channel has no addresses: edit it and add one per line.")
    message, _ = build_email(delivery.changes.all(), channel.address_list, project_id=channel.project_id)
    try:
        check_headers(message)
    except BadHeaderError:
        message, _ = build_email(
            delivery.changes.all(),
            channel.address_list,
            subject=f"{SUBJECT_PREFIX}alert {delivery.alert_id}",
            project_id=channel.project_id,
        )
        check_headers(message)
    try:
        message.send()
    except Exception as error:  # any transport failure: the delivery is retried
        raise ChannelError(one_line(f"{type(error).__name__}: {error}", 300)) from None


def send_text(channel: Channel, title: str, lines: list[str]) -> None:
    """A short message (a test message, a digest) to any kind of channel."""
    if channel.kind == ChannelKind.EMAIL:
        if not channel.address_list:
            raise ChannelError("This email channel has no addresses: edit it and add one per line.")
        try:
            send_mail(one_line(f"{SUBJECT_PREFIX}{title}", 200), "\n".join(lines), None, channel.address_list)
        except Exception as error:
            raise ChannelError(one_line(f"{type(error).__name__}: {error}", 300)) from None
        return
    send_chat(channel, one_line(f"Paystatus: {title}", 200), "\n".join(one_line(line, 500) for line in lines))


def send_test(channel: Channel) -> str:
    """Send a test message; the outcome in plain words (raises ChannelError with the reason)."""
    scope = f"project “{channel.project}”" if channel.project_id else "all sources (global)"
    send_text(
        channel,
        f"test message for the channel “{one_line(channel.name)}”",
        [f"This channel hears of {scope}. Alerts will arrive here like this.", f"{settings.SITE_URL}/alerts/"],
    )
    where = "the addresses" if channel.kind == ChannelKind.EMAIL else channel.service_words
    return f"Test message sent: {where} accepted it."


# --- the queue --------------------------------------------------------------------------------


def due(now: datetime) -> list[int]:
    waiting = Q(status__in=[Status.PENDING, Status.FAILED], next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS)
    abandoned = Q(status=Status.SENDING, claimed_until__lt=now)
    return list(Delivery.objects.filter(waiting | abandoned).order_by("created_at", "pk").values_list("pk", flat=True))


def claim(pk: int, now: datetime) -> bool:
    claimable = Q(status__in=[Status.PENDING, Status.FAILED]) | Q(status=Status.SENDING, claimed_until__lt=now)
    updated = Delivery.objects.filter(claimable, pk=pk).update(
        status=Status.SENDING, claimed_until=now + CLAIM_FOR, attempts=F("attempts") + 1
    )
    return updated == 1


def deliver(delivery: Delivery, now: datetime) -> bool:
    channel = delivery.channel
    try:
        if channel.kind == ChannelKind.EMAIL:
            send_email(channel, delivery)
        else:
            changes = list(with_relations(delivery.changes.all()).order_by("severity", "at", "pk"))
            message = chat_message(changes, channel.project_id)
            send_chat(channel, message.title, message.body)
    except ChannelError as error:
        delivery.status = Status.FAILED
        delivery.last_error = fit(Delivery, "last_error", cut(str(error), 500))
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
        delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
        logger.warning(
            "alert %s to channel %s failed (attempt %s): %s",
            delivery.alert_id,
            channel.pk,
            delivery.attempts,
            delivery.last_error,
        )
        return False
    delivery.status, delivery.sent_at, delivery.last_error = Status.SENT, timezone.now(), ""
    delivery.save(update_fields=["status", "sent_at", "last_error"])
    logger.info("alert %s sent to channel %s (%s)", delivery.alert_id, channel.pk, channel.service_words)
    return True


def send_due(now: datetime) -> tuple[int, int]:
    """Deliver every due delivery once per claim: (sent, failed)."""
    sent = failed = 0
    for pk in due(now):
        if not claim(pk, now):
            continue  # another sender has it
        if deliver(Delivery.objects.select_related("channel", "channel__project").get(pk=pk), now):
            sent += 1
        else:
            failed += 1
    return sent, failed
