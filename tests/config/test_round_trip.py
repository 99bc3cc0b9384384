"""Export, import into an empty database, export again: the same file, with and without secrets."""

from __future__ import annotations

import pytest

from integrations_app.config.service import export_config, import_config
from integrations_app.models import (
    Channel,
    ChannelKind,
    ClientLink,
    DataFastSite,
    MaintenanceWindow,
    Membership,
    Silence,
)
from integrations_app.scoping import EVERYTHING
from tests.config.build import PASSPHRASE, counts, empty, full_configuration

pytestmark = pytest.mark.django_db


def test_every_section_survives_a_round_trip_with_its_secrets():
    full_configuration()
    plain = export_config(EVERYTHING)
    sealed = export_config(EVERYTHING, PASSPHRASE)
    for words in (
        "channels:",
        "Ops chat",
        "silences:",
        "Stripe migration",
        "maintenance_windows:",
        "Sunday",
        "reminder_hours: 0",
    ):
        assert words in plain
    assert "hooks.example" not in sealed and "a@example.com" not in sealed  # sealed, not in clear
    assert "hooks.example" not in plain and "encrypted:" not in plain  # left out
    empty()
    report = import_config(sealed, passphrase=PASSPHRASE)
    assert report.errors == [] and report.applied, report.lines()
    assert export_config(EVERYTHING) == plain
    ops = Channel.objects.get(name="Ops chat")
    assert ops.url is not None and ops.url.reveal() == "json://hooks.example/ops" and ops.service == "json"
    assert Channel.objects.get(kind=ChannelKind.EMAIL).address_list == ["a@example.com", "b@example.com"]
    assert Silence.objects.count() == 2 and MaintenanceWindow.objects.count() == 2
    before = counts()
    again = import_config(sealed, passphrase=PASSPHRASE)
    assert again.changes == [] and not again.applied
    assert again.summary() == "Nothing to change: the database already matches the file."
    assert counts() == before


def test_without_secrets_a_file_changes_rows_and_keeps_their_secrets():
    full_configuration()
    plain = export_config(EVERYTHING)
    edited = plain.replace("  vendors:\n  - datafast\n", "  vendors:\n  - chargebackstop\n").replace(
        "comment: Big day", "comment: Bigger day"
    )
    report = import_config(edited)
    assert report.errors == [] and report.applied, report.lines()
    assert [(item.action, item.words, item.fields) for item in report.changes] == [
        ("change", "channel “Ops chat”", ["vendors"]),
        ("change", "maintenance window “Move to the new shop” (website 6650a1f2c4e8b90012ab3401)", ["comment"]),
    ]
    ops = Channel.objects.get(name="Ops chat")
    assert ops.vendors == ["chargebackstop"] and ops.url is not None and ops.url.reveal() == "json://hooks.example/ops"
    assert MaintenanceWindow.objects.get(name="Move to the new shop").comment == "Bigger day"


def test_a_new_channel_without_its_secret_is_refused_with_what_to_do():
    full_configuration()
    before = counts()
    report = import_config(export_config(EVERYTHING).replace("name: Ops chat", "name: Ops room"))
    assert len(report.errors) == 1 and not report.applied
    assert report.errors[0].startswith("line ")
    assert "channel “Ops room”" in report.errors[0] and "needs its Apprise URL or email addresses" in report.errors[0]
    assert "--with-secrets" in report.errors[0]
    assert counts() == before


def test_without_secrets_the_rows_that_have_none_round_trip_beside_the_credentials_kept():
    full_configuration()
    plain = export_config(EVERYTHING)
    for model in (Silence, MaintenanceWindow, DataFastSite, ClientLink, Membership):
        model.objects.all().delete()
    report = import_config(plain)
    assert report.errors == [] and report.applied, report.lines()
    assert export_config(EVERYTHING) == plain


def test_without_secrets_an_empty_database_is_refused_naming_each_credential():
    full_configuration()
    plain = export_config(EVERYTHING)
    empty()
    before = counts()
    report = import_config(plain)
    needs = [error.split(": ", 1)[1].split(": a new")[0] for error in report.errors]
    assert needs == [
        "accounts[1] (DataFast account “Acme Holdings”)",
        "keys[1] (ChargebackStop key “Northwind”)",
        "channels[1] (channel “Client A mail” of project Client A)",
        "channels[2] (channel “Ops chat”)",
    ]
    assert counts() == before
