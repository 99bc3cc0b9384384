"""Silences and maintenance windows through an import, as the Silences page handles them: a pruned
running silence is ended early (audited, followed up), a pruned running window's occurrence is
followed up, an ended silence in a kept file is skipped, an imported silence has its author."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.config import yamlio
from integrations_app.config.service import export_config, export_document, import_config
from integrations_app.datafast.poller import poll_site
from integrations_app.models import AuditEntry, MaintenanceWindow, Silence, StatusChange
from integrations_app.models.history import ChangeKind
from integrations_app.scoping import EVERYTHING
from tests import factories
from tests.config.build import full_configuration
from tests.silences import test_policy
from tests.silences.test_policy import at, set_stripe, silence

pytestmark = pytest.mark.django_db(transaction=True)
start, site = test_policy.start, test_policy.site  # its fixtures: a moment, a polled website


def without(section: str) -> str:
    document = export_document(EVERYTHING)
    document[section] = []
    return yamlio.dump(document)


def test_pruning_a_running_silence_ends_it_early_as_the_page_does(sandbox, smtp_sink, site, start):
    muting = silence(site, start, hours=2)
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
    held = StatusChange.objects.get(kind=ChangeKind.PROVIDER)
    assert held.silence == muting
    staff = factories.staff("olga")
    with at(start, 20):
        report = import_config(without("silences"), prune=True, user=staff)
        assert report.applied and report.count("remove") == 1, report.lines()
        assert send_pending_alerts(wait=False).sent == 1
    muting.refresh_from_db()
    assert muting.ended_early_at == start + timedelta(minutes=20) and muting.ended_early_by == staff
    held.refresh_from_db()
    assert held.silence == muting  # the held change still says what held it
    (still,) = StatusChange.objects.filter(kind=ChangeKind.STILL_BROKEN)
    assert "still broken after the silence by alice ended (deploy)" in still.reason
    entry = AuditEntry.objects.get(action="silence.end")
    assert entry.username == "olga" and entry.after == {"ended_at": (start + timedelta(minutes=20)).isoformat()}
    assert len(smtp_sink.messages) == 1
    with at(start, 30):  # an ended silence is history, not configuration: nothing more to prune
        assert import_config(without("silences"), prune=True, user=staff).changes == []


def test_pruning_a_running_window_follows_up_its_occurrence(sandbox, smtp_sink, site, start):
    MaintenanceWindow.objects.create(
        name="Deploy", site=site, repeat="once", starts_at=start, ends_at=start + timedelta(hours=2), created_at=start
    )
    set_stripe(sandbox, False)
    with at(start, 10):
        poll_site(site.pk)
    assert StatusChange.objects.get(kind=ChangeKind.PROVIDER).maintenance is not None
    with at(start, 20):
        report = import_config(without("maintenance_windows"), prune=True, user=factories.staff("olga"))
        assert report.applied and report.count("remove") == 1, report.lines()
        assert send_pending_alerts(wait=False).sent == 1
    assert not MaintenanceWindow.objects.exists()
    (still,) = StatusChange.objects.filter(kind=ChangeKind.STILL_BROKEN)
    assert "still broken after the maintenance window “Deploy”" in still.reason
    assert AuditEntry.objects.get(action="maintenance.delete").username == "olga"
    assert len(smtp_sink.messages) == 1


def test_an_ended_silence_in_a_kept_file_is_skipped_with_a_note(start):
    full_configuration()
    text = export_config(EVERYTHING)
    with at(start, 60 * 24 * 3):  # both of the file's silences have ended
        first = import_config(text)
        assert first.errors == [] and first.changes == [], first.lines()
        skipped = [note for note in first.notes if note.endswith(": has ended, so it is skipped (history).")]
        assert len(skipped) == 2, first.notes
        line = text.splitlines().index("silences:") + 2
        assert skipped[0].startswith(f"line {line}: silences[1] (silence of website")
        assert import_config(text, prune=True).changes == []  # twice: still nothing
    assert Silence.objects.count() == 2


def test_an_imported_silence_has_its_author_and_is_audited(start):
    full_configuration()
    alice = User.objects.get(username="alice")
    document = export_document(EVERYTHING)
    document["silences"][0]["created_by"] = "alice"
    document["silences"][1]["created_by"] = "nobody-here"
    text = yamlio.dump(document)
    Silence.objects.all().delete()
    staff = factories.staff("olga")
    report = import_config(text, user=staff)
    assert report.applied and report.count("add") >= 2, report.lines()
    authors = dict(Silence.objects.values_list("comment", "created_by"))
    assert authors == {"Stripe migration": alice.pk, "Planned work": staff.pk}
    entries = AuditEntry.objects.filter(action="silence.create").order_by("pk")
    assert [entry.username for entry in entries] == ["olga", "olga"]
    assert sorted(str((entry.after or {}).get("comment")) for entry in entries) == ["Planned work", "Stripe migration"]
    assert import_config(text, user=staff).changes == []  # the author is not compared: twice changes nothing
    exported = export_document(EVERYTHING)["silences"]
    assert sorted(str(s["created_by"]) for s in exported) == ["alice", "olga"]
