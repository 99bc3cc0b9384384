"""The alert email: subject, plain text and HTML, from templates in templates/emails/."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone

from integrations_app.describe import describe, with_relations
from integrations_app.models import Alert
from integrations_app.models.history import Severity

SUBJECT_PREFIX = "[Paystatus] "


def subject_for(described: list) -> str:
    if len(described) == 1:
        return SUBJECT_PREFIX + described[0].summary
    counts = Counter(item.severity for item in described)
    parts = [
        f"{counts[severity]} {word}"
        for severity, word in (
            (Severity.PROBLEM, "problems"),
            (Severity.RECOVERY, "recoveries"),
            (Severity.NOTICE, "notices"),
            (Severity.INFO, "updates"),
        )
        if counts[severity]
    ]
    return f"{SUBJECT_PREFIX}{len(described)} changes: {', '.join(parts)}"


def build_message(alert: Alert) -> EmailMultiAlternatives:
    changes = list(with_relations(alert.changes.all()).order_by("severity", "at"))
    items = [(change, describe(change)) for change in changes]
    described = [item for _, item in items]
    subject = subject_for(described)[:200]
    context = {
        "items": [{"change": change, "described": item, "at": timezone.localtime(change.at)} for change, item in items],
        "site_url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "subject": subject,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=alert.recipients,
    )
    message.attach_alternative(render_to_string("emails/alert.html", context), "text/html")
    alert.subject = subject
    return message
