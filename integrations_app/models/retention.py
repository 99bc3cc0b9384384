"""Retention: keep the database bounded however long Paystatus runs."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from integrations_app.models import FormSubmission, PollAttempt, ReminderRecord, Snapshot
from integrations_app.upstreams import SOURCE_LINKS

# Successful attempts are numerous and dull; failures explain incidents, so they stay longer.
OK_ATTEMPTS_FOR = timedelta(days=2)
FAILED_ATTEMPTS_FOR = timedelta(days=30)
SNAPSHOTS_FOR = timedelta(days=90)
# A form's one-time token only has to outlive a double click or a page resubmitted from the
# browser's history; a week is far beyond that, and the table stays the size of a week's forms.
FORM_SUBMISSIONS_FOR = timedelta(days=7)
# A reminder's record is read only to space the next one of its scope (alerts/reminders.py): past
# the longest period (a project's is at most a week, the default REMINDER_HOURS may be longer) it
# can no longer hold anything back, and its slot can never come again (slots count up with time).
LONGEST_PROJECT_REMINDER_PERIOD = timedelta(days=7)


def reminder_records_for() -> timedelta:
    return max(LONGEST_PROJECT_REMINDER_PERIOD, timedelta(hours=settings.REMINDER_HOURS)) + timedelta(days=1)


def prune() -> dict[str, int]:
    now = timezone.now()
    ok, _ = PollAttempt.objects.filter(ok=True, started_at__lt=now - OK_ATTEMPTS_FOR).delete()
    failed, _ = PollAttempt.objects.filter(ok=False, started_at__lt=now - FAILED_ATTEMPTS_FOR).delete()
    latest_ids = set(Snapshot.objects.values(*SOURCE_LINKS).annotate(latest=Max("id")).values_list("latest", flat=True))
    old = Snapshot.objects.filter(taken_at__lt=now - SNAPSHOTS_FOR).exclude(id__in=latest_ids)
    snapshots, _ = old.delete()
    submissions, _ = FormSubmission.objects.filter(created_at__lt=now - FORM_SUBMISSIONS_FOR).delete()
    reminders, _ = ReminderRecord.objects.filter(created_at__lt=now - reminder_records_for()).delete()
    return {
        "ok_attempts": ok,
        "failed_attempts": failed,
        "snapshots": snapshots,
        "form_submissions": submissions,
        "reminder_records": reminders,
    }


def compact() -> list[str]:
    """Rebuild the poll-attempt indexes on PostgreSQL (SQLite merges underfull pages by itself).
    Failed attempts outlive successful ones, so after pruning nearly every old index page still
    holds a few entries, and PostgreSQL reuses a B-tree page only once it is empty: without this
    the indexes grow for the whole 30 days failed attempts are kept. CONCURRENTLY: polls go on
    writing meanwhile."""
    if connection.vendor != "postgresql":
        return []
    table = PollAttempt._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'REINDEX TABLE CONCURRENTLY "{table}"')
    return [table]
