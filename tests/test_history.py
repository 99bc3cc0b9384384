"""Retention: what pruning keeps and drops, and the index rebuild that keeps PostgreSQL bounded."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations_app.models import FormSubmission, PollAttempt, ReminderRecord, Snapshot
from integrations_app.models.retention import compact, prune
from tests import factories


def attempt(site, age: timedelta, *, ok: bool) -> PollAttempt:
    return PollAttempt.objects.create(
        site=site, started_at=timezone.now() - age, ok=ok, error_kind="" if ok else "timeout"
    )


def snapshot(site, age: timedelta, digest: str) -> Snapshot:
    return Snapshot.objects.create(site=site, taken_at=timezone.now() - age, digest=digest, payload={"d": digest})


@pytest.mark.django_db
def test_prune_drops_old_successes_keeps_failures_a_month_and_each_sources_latest_snapshot():
    site = factories.site()
    recent_ok = attempt(site, timedelta(days=1), ok=True)
    attempt(site, timedelta(days=3), ok=True)
    failure_kept = attempt(site, timedelta(days=20), ok=False)
    attempt(site, timedelta(days=31), ok=False)
    snapshot(site, timedelta(days=200), "oldest")
    latest = snapshot(site, timedelta(days=100), "latest, however old")

    assert prune() == {
        "ok_attempts": 1,
        "failed_attempts": 1,
        "snapshots": 1,
        "form_submissions": 0,
        "reminder_records": 0,
    }
    assert set(PollAttempt.objects.values_list("pk", flat=True)) == {recent_ok.pk, failure_kept.pk}
    assert list(Snapshot.objects.values_list("pk", flat=True)) == [latest.pk]


@pytest.mark.django_db
def test_prune_drops_form_submissions_once_no_resubmission_can_need_them():
    user = factories.staff()
    now = timezone.now()
    rows = {
        age: FormSubmission.objects.create(token=uuid.uuid4(), user=user, created_at=now - age, finished=True)
        for age in (timedelta(hours=1), timedelta(days=6), timedelta(days=8), timedelta(days=90))
    }
    assert prune()["form_submissions"] == 2
    kept = set(FormSubmission.objects.values_list("pk", flat=True))
    assert kept == {rows[timedelta(hours=1)].pk, rows[timedelta(days=6)].pk}


@pytest.mark.django_db
def test_prune_drops_reminder_records_past_the_longest_reminder_period(settings):
    settings.REMINDER_HOURS = 4  # a project's period is at most a week: records of 8 days and more go
    now = timezone.now()
    rows = {
        days: ReminderRecord.objects.create(scope="global", slot=f"1:{days}", created_at=now - timedelta(days=days))
        for days in (0, 6, 9, 40)
    }
    assert prune()["reminder_records"] == 2
    assert set(ReminderRecord.objects.values_list("pk", flat=True)) == {rows[0].pk, rows[6].pk}
    settings.REMINDER_HOURS = 24 * 30  # a default period longer than a week keeps its records as long
    ReminderRecord.objects.create(scope="global", slot="2:1", created_at=now - timedelta(days=20))
    assert prune()["reminder_records"] == 0


@pytest.mark.django_db
def test_compact_leaves_sqlite_alone():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only; PostgreSQL is covered below")
    assert compact() == []


@pytest.mark.django_db(transaction=True)  # REINDEX CONCURRENTLY refuses to run in a transaction
def test_compact_shrinks_the_attempt_indexes_that_sparse_pruning_leaves_bloated():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite merges underfull index pages by itself")
    site = factories.site()
    now = timezone.now()
    # A failure every 50 attempts survives the prune, as failures are kept longer than successes.
    PollAttempt.objects.bulk_create(
        PollAttempt(site=site, started_at=now - timedelta(days=3, seconds=n), ok=n % 50 != 0) for n in range(20_000)
    )
    PollAttempt.objects.filter(ok=True).delete()
    index = "integrations_app_pollattempt_pkey"

    def index_bytes() -> int:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM integrations_app_pollattempt")
            cursor.execute("SELECT pg_relation_size(%s::regclass)", [index])
            count: int = cursor.fetchone()[0]
            return count

    bloated = index_bytes()
    assert compact() == ["integrations_app_pollattempt"]
    assert index_bytes() < bloated / 5
    assert PollAttempt.objects.count() == 400
