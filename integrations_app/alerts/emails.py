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
from integrations_app.text import fit, one_line

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


def fallback_subject(alert: Alert) -> str:
    """A subject of our own words only, for when the mail library refuses the usual one."""
    return f"{SUBJECT_PREFIX}alert {alert.pk}: {alert.changes.count()} change(s), see the dashboard"


def build_message(alert: Alert, *, subject: str = "") -> EmailMultiAlternatives:
    """The alert email. Its subject is one clean line (names come from upstream and from people:
    a CR/LF in one must not break the header, a direction override must not reorder it)."""
    changes = list(with_relations(alert.changes.all()).order_by("severity", "at"))
    items = [(change, describe(change)) for change in changes]
    described = [item for _, item in items]
    subject = fit(alert, "subject", one_line(subject or subject_for(described)))
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
