"""The alert email: subject, plain text and HTML, from templates in templates/emails/."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Model, QuerySet
from django.template.loader import render_to_string
from django.utils import timezone

from integrations_app import problems, upstreams
from integrations_app.alerts import folding
from integrations_app.alerts.describe import Described, with_relations
from integrations_app.models import Alert, StatusChange
from integrations_app.models.history import Severity
from integrations_app.text import fit, one_line

SUBJECT_PREFIX = "[Paystatus] "


def subject_for(described: list[Described]) -> str:
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


def _linked_model(link: str) -> type[Model]:
    """The model a StatusChange foreign key (`site`, `organisation`, `key`…) points to."""
    model = StatusChange._meta.get_field(link).related_model
    if model is None:
        raise LookupError(f"StatusChange.{link} is not a relation")
    return model


def _source_of(change: StatusChange) -> tuple[type[Model], int | None]:
    """What a change is about: the most specific row with a problem state it links to (a website;
    an integration's organisation, else a key)."""
    links = upstreams.of_change(change).problem_links
    for link in links:
        if (pk := getattr(change, f"{link}_id")) is not None:
            return _linked_model(link), pk
    return _linked_model(links[-1]), None


def current_problems(changes: list[StatusChange]) -> dict[int, str]:
    """{change pk: what is wrong with its website, key or organisation as the email is sent}, in the
    pages' words, so a recovery that broke again since, or a second problem, is not missed."""
    now = timezone.now()
    wanted: dict[type[Model], set[int]] = {}
    for change in changes:
        model, pk = _source_of(change)
        if pk is not None:
            wanted.setdefault(model, set()).add(pk)
    found: dict[tuple[type[Model], int | None], str] = {}
    for model, pks in wanted.items():
        rows = list(model._default_manager.filter(pk__in=pks))
        disconnected = upstreams.of_model(model).words.disconnected(rows)
        for row in rows:
            problem = problems.problem_of(row)
            words = problems.words(problem, row, disconnected=disconnected.get(row.pk, []), now=now)
            found[model, row.pk] = f"{problems.ICONS[problem]} {words}"
    return {change.pk: found[_source_of(change)] for change in changes if _source_of(change) in found}


def fallback_subject(alert: Alert) -> str:
    """A subject of our own words only, for when the mail library refuses the usual one."""
    return f"{SUBJECT_PREFIX}alert {alert.pk}: {alert.changes.count()} change(s), see the dashboard"


def build_message(alert: Alert, *, subject: str = "") -> EmailMultiAlternatives:
    """The alert email to the admins (ADMINS), about all its changes."""
    message, alert.subject = build_email(alert.changes.all(), alert.recipients, subject=subject)
    return message


def build_email(
    changes: QuerySet[StatusChange], to: list[str], *, subject: str = "", project_id: int | None = None
) -> tuple[EmailMultiAlternatives, str]:
    """An alert email about `changes` to `to`, and its subject (for a project's channel, its
    causes worded with that project's sources only: folding.lines). The subject is one clean line
    (names come from upstream and from people: a CR/LF in one must not break the header, a
    direction override must not reorder it)."""
    listed = list(with_relations(changes).order_by("severity", "at"))
    now_words = current_problems(listed)
    items: list[dict[str, Any]] = []
    for line in folding.lines(listed, project_id):  # the changes of one cause are one line
        now = None if line.folded else now_words.get(line.change.pk)
        items.append(
            {
                "described": line.described,
                "severity": Severity(line.described.severity).label,
                "reason": line.reason,
                "now": now,
                "acknowledged": line.acknowledged,
                "at": timezone.localtime(line.change.at),
            }
        )
    subject = fit(Alert, "subject", one_line(subject or subject_for([each["described"] for each in items])))
    context = {
        "items": items,
        "site_url": settings.SITE_URL,
        "time_zone": settings.TIME_ZONE,
        "subject": subject,
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("emails/alert.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
    )
    message.attach_alternative(render_to_string("emails/alert.html", context), "text/html")
    return message, subject
