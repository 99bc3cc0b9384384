"""Incidents of a subject (a provider on a website, a ChargebackStop integration): going bad opens one
and alerts, going good alerts only to close an open one, and a subject that flaps gets one notice
then silence until it settles. The same rules for both kinds of subject, proven for each."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Integration, ProviderState, StatusChange
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.factories import present

pytestmark = pytest.mark.django_db


@dataclass
class Subject:
    """One subject in the sandbox, moved between its good and bad state, then polled."""

    kind: str  # the ChangeKind of its transitions
    good_word: str
    bad_word: str
    source: Any
    poll: Any
    move: Any  # move(sandbox, good: bool)
    row: Any  # row() -> its current-state row

    def set(self, sandbox: Any, *, good: bool) -> None:
        self.move(sandbox, good)


def provider(sandbox: Any) -> Subject:
    site = factories.site()
    return Subject(
        ChangeKind.PROVIDER,
        "connected",
        "not connected",
        site,
        lambda: poll_site(site.pk),
        lambda box, good: box.state.set_connected(demo.ACME_STORE, "stripe", good),
        lambda: ProviderState.objects.get(site=site, provider="stripe"),
    )


def integration(sandbox: Any) -> Subject:
    key = factories.key()
    return Subject(
        ChangeKind.INTEGRATION_STATUS,
        "ENABLED",
        "DISABLED",
        key,
        lambda: poll_key(key.pk),
        lambda box, good: box.state.set_integration_status(demo.ACME_ORDERS, "ENABLED" if good else "DISABLED"),
        lambda: Integration.objects.get(integration_id=demo.ACME_ORDERS),
    )


SUBJECTS = pytest.mark.parametrize("make", [provider, integration], ids=["provider", "integration"])


def told(kind: str | None = None) -> list[tuple[str, str, str]]:
    changes = StatusChange.objects.filter(notify=True).order_by("at", "id")
    if kind:
        changes = changes.filter(kind__in=[kind, ChangeKind.FLAPPING])
    return [(change.kind, change.severity, change.new) for change in changes]


@SUBJECTS
def test_a_problem_opens_an_incident_and_its_recovery_closes_it(sandbox, make):
    subject = make(sandbox)
    subject.poll()
    assert told() == []
    assert not subject.row().alert_open
    subject.set(sandbox, good=False)
    subject.poll()
    assert told(subject.kind) == [(subject.kind, Severity.PROBLEM, subject.bad_word)]
    assert subject.row().alert_open
    subject.set(sandbox, good=True)
    subject.poll()
    assert told(subject.kind)[-1] == (subject.kind, Severity.RECOVERY, subject.good_word)
    assert not subject.row().alert_open


@SUBJECTS
def test_a_problem_seen_at_the_first_poll_is_no_incident_and_its_end_tells_nobody(sandbox, make):
    subject = make(sandbox)
    subject.set(sandbox, good=False)
    subject.poll()
    subject.set(sandbox, good=True)
    subject.poll()
    assert told(subject.kind) == []
    assert not subject.row().alert_open
    assert StatusChange.objects.filter(kind=subject.kind, severity=Severity.INFO).count() == 1


@SUBJECTS
def test_a_flapping_subject_gets_one_notice_then_one_when_it_settles(sandbox, make):
    subject = make(sandbox)
    subject.poll()
    start = timezone.now()
    for step in range(8):
        subject.set(sandbox, good=step % 2 == 1)
        with time_machine.travel(start + timedelta(minutes=5 * (step + 1))):
            subject.poll()
    # bad, good, bad are told; the 4th change starts the flapping notice; the rest are silent.
    assert told(subject.kind) == [
        (subject.kind, Severity.PROBLEM, subject.bad_word),
        (subject.kind, Severity.RECOVERY, subject.good_word),
        (subject.kind, Severity.PROBLEM, subject.bad_word),
        (ChangeKind.FLAPPING, Severity.NOTICE, subject.good_word),
    ]
    assert StatusChange.objects.filter(kind=subject.kind).count() == 8
    row = subject.row()
    assert row.flapping_since is not None
    assert row.alert_open  # the last thing people heard of was a problem
    with time_machine.travel(start + timedelta(minutes=50)):
        subject.poll()  # still within the quiet period: no word
    assert len(told(subject.kind)) == 4
    with time_machine.travel(start + timedelta(hours=3)):
        subject.poll()
    # It settled good; people last heard of a problem, so the notice is a recovery.
    assert told(subject.kind)[-1] == (ChangeKind.FLAPPING, Severity.RECOVERY, subject.good_word)
    row = subject.row()
    assert (row.flapping_since, row.alert_open) == (None, False)


@SUBJECTS
def test_a_flapping_subject_that_settles_bad_says_so_and_keeps_its_incident_open(sandbox, make):
    subject = make(sandbox)
    subject.poll()
    start = timezone.now()
    for step in range(5):  # bad, good, bad, good (flapping starts), bad
        subject.set(sandbox, good=step % 2 == 1)
        with time_machine.travel(start + timedelta(minutes=5 * (step + 1))):
            subject.poll()
    assert told(subject.kind)[-1] == (ChangeKind.FLAPPING, Severity.NOTICE, subject.good_word)
    with time_machine.travel(start + timedelta(hours=3)):
        subject.poll()
    # The last problem told is still open (the recovery that started the flapping was not told),
    # so settling bad is a notice of where it settled, not a second problem.
    last = present(StatusChange.objects.filter(kind=ChangeKind.FLAPPING).order_by("at", "id").last())
    assert (last.severity, last.new, last.notify) == (Severity.NOTICE, subject.bad_word, True)
    row = subject.row()
    assert (row.flapping_since, row.alert_open) == (None, True)


def test_only_the_recorder_writes_state_changes():
    """Every change passes the notify policy: no module but alerts/changes.py creates the rows."""
    app = Path(__file__).resolve().parent.parent / "integrations_app"
    writes = re.compile(
        r"(?<!class )StatusChange\(|StatusChange\.objects\.(create|bulk_create|get_or_create|update_or_create)\("
    )
    writers = sorted(
        str(path.relative_to(app))
        for path in app.rglob("*.py")
        if "sandbox" not in path.parts and "migrations" not in path.parts and writes.search(path.read_text())
    )
    assert writers == ["alerts/changes.py"]
