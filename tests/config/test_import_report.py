"""What an import reports and does: dry run, a second import, prune, and the commands."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management.base import CommandError

from integrations_app.config import yamlio
from integrations_app.config.service import export_config, export_document, import_config
from integrations_app.models import AuditEntry, Channel, DataFastSite, MaintenanceWindow, Organisation, Project
from integrations_app.scoping import EVERYTHING
from tests.config.build import counts, full_configuration
from tests.test_commands import run

pytestmark = pytest.mark.django_db
NEW_SITE = {
    "website_id": "6650a1f2c4e8b90012ab34ff",
    "name": "Corner Shop",
    "name_is_custom": False,
    "account": "Acme Holdings",
    "project": "Client A",
    "enabled": True,
    "poll_interval_seconds": None,
}


def edited() -> str:
    """The configuration with a website added, a project changed and a channel and window left out."""
    document = export_document(EVERYTHING)
    document["websites"].append(NEW_SITE)
    document["projects"][0]["time_zone"] = "Europe/Berlin"
    document["channels"] = [channel for channel in document["channels"] if channel["name"] != "Ops chat"]
    document["maintenance_windows"] = document["maintenance_windows"][1:]
    document["organisations"] = []
    return yamlio.dump(document)


def test_a_dry_run_lists_what_it_would_add_change_and_remove_and_writes_nothing():
    full_configuration()
    before = counts()
    report = import_config(edited(), prune=True, dry_run=True)
    assert report.errors == [] and not report.applied
    assert [(item.action, item.words, item.fields) for item in report.changes] == [
        ("change", "project “Client A”", ["time_zone"]),
        ("add", "website “Corner Shop” (6650a1f2c4e8b90012ab34ff)", []),
        ("remove", "channel “Ops chat”", []),
        ("remove", "maintenance window “Move to the new shop” (website 6650a1f2c4e8b90012ab3401)", []),
    ]
    assert report.summary() == "Dry run: would add 1, change 1, remove 2; nothing was changed."
    assert (
        "  = 1 organisation not in the file, kept "
        "(organisations are learnt from the keys and never deleted by an import)" in report.lines()
    )
    assert counts() == before


def test_prune_removes_what_the_file_does_not_list_and_a_second_import_changes_nothing():
    full_configuration()
    text = edited()
    report = import_config(text, prune=True)
    assert report.applied and report.summary() == "Imported: added 1, changed 1, removed 2."
    assert not Channel.objects.filter(name="Ops chat").exists()
    assert list(MaintenanceWindow.objects.values_list("name", flat=True)) == ["Sunday backups"]
    assert Project.objects.get().time_zone == "Europe/Berlin" and DataFastSite.objects.count() == 3
    assert Organisation.objects.count() == 1  # learnt from the keys: never removed
    audit = AuditEntry.objects.get(action="config.import")
    assert audit.after == {"add": 1, "change": 1, "remove": 2}
    before = counts()
    again = import_config(text, prune=True)
    assert again.changes == [] and not again.applied
    assert again.summary() == "Nothing to change: the database already matches the file."
    assert counts() == before


def test_without_prune_what_the_file_leaves_out_is_kept_and_reported():
    full_configuration()
    report = import_config(edited())
    assert report.applied and report.summary() == "Imported: added 1, changed 1, removed 0."
    lines = report.lines()
    assert "  = 1 channel not in the file, kept (--prune removes them)" in lines
    assert "  = 1 maintenance window not in the file, kept (--prune removes them)" in lines
    assert Channel.objects.filter(name="Ops chat").exists() and MaintenanceWindow.objects.count() == 2


def test_prune_does_not_remove_a_project_that_kept_rows_still_name():
    full_configuration()
    document = export_document(EVERYTHING)
    document["projects"] = []
    before = counts()
    report = import_config(yamlio.dump(document), prune=True)
    assert not report.applied and counts() == before
    assert any(
        "websites[1] (website “Acme Store”" in error and "no project “Client A”" in error for error in report.errors
    )


def test_the_commands_export_to_a_file_and_import_it_with_a_dry_run(tmp_path: Path):
    full_configuration()
    path = tmp_path / "paystatus.yaml"
    path.write_text(edited(), encoding="utf-8")
    out = run("import_config", str(path), "--dry-run", "--prune")
    assert out.splitlines()[:3] == [
        "Dry run: would add 1, change 1, remove 2; nothing was changed.",
        "  ~ project “Client A”: time_zone (line 14)",
        "  + website “Corner Shop” (6650a1f2c4e8b90012ab34ff) (line 35)",
    ]
    path.write_text(export_config(EVERYTHING).replace("level: partner", "level: boss"), encoding="utf-8")
    with pytest.raises(CommandError, match=r"^Refused: 1 problem; nothing was changed\.$"):
        run("import_config", str(path))
    run("export_config", "--output", str(path))
    assert path.read_text(encoding="utf-8") == export_config(EVERYTHING)
    assert run("import_config", str(path)).splitlines() == ["Nothing to change: the database already matches the file."]
