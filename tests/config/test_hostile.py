"""Hostile and wrong files: each is refused with a message naming the entry and its line, and the
database is left exactly as it was (row counts, the audit log included)."""

from __future__ import annotations

import re
import time

import pytest
from django.test import override_settings

from integrations_app.config.service import export_config, import_config
from integrations_app.scoping import EVERYTHING
from tests.config.build import PASSPHRASE, counts, full_configuration

pytestmark = pytest.mark.django_db


def refused(text: str | bytes, passphrase: str | None = None) -> list[str]:
    """The file's errors; asserts that nothing was written."""
    before = counts()
    report = import_config(text, passphrase=passphrase)
    assert report.errors and not report.applied, report.lines()
    assert report.summary().endswith("nothing was changed.")
    assert counts() == before
    return report.errors


def line_of(text: str, needle: str) -> int:
    return next(number for number, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.fixture
def exported() -> str:
    full_configuration()
    return export_config(EVERYTHING)


def test_a_string_for_a_number_names_the_website_and_the_line(exported):
    text = exported.replace("poll_interval_seconds: 600", "poll_interval_seconds: ten minutes")
    assert refused(text) == [
        f"line {line_of(text, 'ten minutes')}: websites[2] (website “6650a1f2c4e8b90012ab3402”): "
        "poll_interval_seconds: expected a whole number, got text."
    ]


def test_a_list_for_a_mapping(exported):
    text = exported.replace("- name: Acme Holdings\n", "- - Acme Holdings\n")
    assert refused(text) == [f"line {line_of(text, '- - Acme')}: accounts[1]: expected a mapping, got a list."]


def test_an_unknown_key_and_a_missing_one(exported):
    text = exported.replace("  label: Northwind\n", "  labl: Northwind\n").replace(
        "- name: Acme Holdings\n", "- nom: Acme Holdings\n"
    )
    assert refused(text) == [
        f"line {line_of(text, 'nom: Acme')}: accounts[1]: unknown field “nom” (expected name).",
        f"line {line_of(text, 'labl:')}: organisations[1] (organisation “org_northwind”): unknown field “labl” "
        "(expected organisation_id, label, project).",
    ]
    text = exported.replace("  level: partner\n", "")
    assert refused(text) == [
        f"line {line_of(text, '- name: Northwind')}: keys[1] (ChargebackStop key “Northwind”): level is missing."
    ]


def test_a_billion_laughs_is_refused_before_anything_is_expanded():
    laughs = ["version: 1", 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        previous = chr(ord("a") + level - 1)
        laughs.append(f"{chr(ord('a') + level)}: &{chr(ord('a') + level)} [{','.join([f'*{previous}'] * 9)}]")
    started = time.monotonic()
    assert refused("\n".join(laughs)) == ["line 2: anchors (&a) are not allowed: write each value out."]
    assert time.monotonic() - started < 2


def test_an_alias_alone_is_refused(exported):
    text = exported.replace("- name: Acme Holdings", "- name: &acme Acme Holdings").replace(
        "  account: Acme Holdings\n  project: null", "  account: *acme\n  project: null"
    )
    (error,) = refused(text)
    assert error == f"line {line_of(text, '&acme')}: anchors (&acme) are not allowed: write each value out."


def test_a_hundred_thousand_entries_are_refused_at_the_limit_quickly():
    text = "version: 1\nwebsites:\n" + "- {}\n" * 100_000
    started = time.monotonic()
    (error,) = refused(text)
    assert error == "line 20003: the file has more than 20,000 entries (CONFIG_MAX_ENTRIES)."
    assert time.monotonic() - started < 10


def test_a_file_over_the_size_limit_is_refused_unread():
    assert refused(b"version: 1\n" + b"#" * 2_000_000) == [
        "The file is 2.0 MB, over the limit of 2.0 MB (CONFIG_MAX_BYTES)."
    ]
    with override_settings(CONFIG_MAX_BYTES=1_000):
        assert refused("version: 1\n" + "#" * 1_000) == [
            "The file is 1,011 bytes, over the limit of 1,000 bytes (CONFIG_MAX_BYTES)."
        ]


def test_invalid_utf8(exported):
    data = exported.encode().replace(b"Acme Store", b"Acme \xff Store")
    (error,) = refused(data)
    position = data.index(b"\xff") + 1
    assert error == f"The file is not UTF-8 text (byte {position} is not)."


def test_a_key_twice_in_an_entry_and_an_entry_twice(exported):
    text = exported.replace("  label: Northwind\n", "  label: Northwind\n  label: Southwind\n")
    assert refused(text) == [f"line {line_of(text, 'Southwind')}: the key “label” appears twice here."]
    twice = exported.replace("- name: Acme Holdings\n", "- name: Acme Holdings\n- name: ACME holdings\n")
    assert refused(twice) == [
        f"line {line_of(twice, 'ACME holdings')}: accounts[2] (DataFast account “ACME holdings”): "
        f"listed twice (also on line {line_of(twice, '- name: Acme Holdings')})."
    ]


def test_a_reference_to_an_unknown_project(exported):
    text = exported.replace("  project: Client A\n  enabled: true", "  project: Client B\n  enabled: true")
    assert refused(text) == [
        f"line {line_of(text, 'website_id: 6650a1f2c4e8b90012ab3401')}: websites[1] (website “Acme Store” "
        "(6650a1f2c4e8b90012ab3401)): project: no project “Client B” in the file or the database."
    ]


def test_a_silence_and_a_window_refused_by_their_forms(exported):
    text = exported.replace("comment: Stripe migration", "comment: ''").replace(
        "duration_minutes: 90", "duration_minutes: 20000"
    )
    errors = refused(text)
    assert len(errors) == 2
    assert errors[0].startswith(f"line {line_of(text, 'silences:') + 1}: silences[1] (silence of website")
    assert errors[0].endswith(": comment: This field is required.")
    assert errors[1].startswith(f"line {line_of(text, '- name: Sunday backups')}: maintenance_windows[2]")
    assert errors[1].endswith("duration_minutes: Ensure this value is less than or equal to 10080.")


def test_a_channel_refused_by_its_form(exported):
    text = exported.replace("  vendors:\n  - datafast\n", "  vendors:\n  - paypal\n")
    (error,) = refused(text)
    assert error == (
        f"line {line_of(text, '- name: Ops chat')}: channels[2] (channel “Ops chat”): vendors: "
        "Select a valid choice. paypal is not one of the available choices."
    )


def test_a_wrong_passphrase_is_refused_once():
    full_configuration()
    sealed = export_config(EVERYTHING, PASSPHRASE)
    assert refused(sealed, passphrase="not the passphrase") == [
        f"line {line_of(sealed, '  kdf: scrypt')}: secrets: wrong passphrase: the file's secrets do not open with it."
    ]


def test_a_changed_sealed_secret_is_refused_with_its_entry():
    full_configuration()
    sealed = export_config(EVERYTHING, PASSPHRASE)
    token = re.search(r"encrypted: (\S+)", sealed.split("accounts:")[1])
    assert token is not None
    text = sealed.replace(token.group(1), token.group(1)[:-8] + "AAAAAAA=")
    (error,) = refused(text, passphrase=PASSPHRASE)
    assert error.startswith(f"line {line_of(text, 'AAAAAAA=')}: accounts[1] (DataFast account “Acme Holdings”)")
    assert "does not open with this passphrase" in error


def test_a_secret_in_clear_is_refused_with_what_to_do(exported):
    text = exported.replace("- name: Acme Holdings\n", "- name: Acme Holdings\n  secret: dft_live_0123456789\n")
    (error,) = refused(text)
    assert error == (
        f"line {line_of(text, 'dft_live_')}: accounts[1]: secret: written in clear, and a file holds secrets only "
        "encrypted. Export the file with --with-secrets to have them encrypted under a passphrase, or leave the "
        "secret out and enter it in the dashboard."
    )
    assert "dft_live_0123456789" not in error


def test_an_export_from_a_newer_format_version(exported):
    text = exported.replace("version: 1\n", "version: 2\n").replace("accounts:", "acounts:")
    assert refused(text) == [
        f"line {line_of(text, 'version: 2')}: version: this file is format version 2, written by a newer Paystatus; "
        "this one reads version 1. Import it with the newer Paystatus, or export it again from this one."
    ]
