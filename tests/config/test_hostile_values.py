"""Values a hostile or careless file may hold that the first checks let through (review of the
configuration import): huge numbers, blank names, KDF parameters over the memory budget."""

from __future__ import annotations

import pytest

from integrations_app.config import secrets
from integrations_app.config.service import export_config
from integrations_app.scoping import EVERYTHING
from tests.config import test_hostile
from tests.config.build import PASSPHRASE, full_configuration
from tests.config.test_hostile import line_of, refused

pytestmark = pytest.mark.django_db
exported = test_hostile.exported  # its fixture: the full configuration's file


@pytest.mark.parametrize(
    "number",
    ["9" * 5000, "-" + "9" * 5000, ":".join(["1"] * 3000), "1" + "0" * 19, "0x" + "f" * 5000, "0b" + "1" * 80],
)
def test_a_huge_number_is_refused_with_its_line(exported, number):
    text = exported.replace("poll_interval_seconds: 600", f"poll_interval_seconds: {number}")
    assert refused(text) == [f"line {line_of(text, 'poll_interval_seconds: ' + number[:5])}: number too large."]
    assert refused("version: " + number) == ["line 1: number too large."]


def test_an_ordinary_base_60_number_still_reads():
    # YAML 1.1 reads 0:30 as 30; a small one is not refused (the field says what is wrong).
    errors = refused("version: 0:30")
    assert errors == ["line 1: version: must be 1."]


@pytest.mark.parametrize("name", ["  ", "\t", ""])
def test_a_blank_name_is_refused_with_its_entry_and_line(exported, name):
    text = exported.replace("- name: Acme Holdings\n", f"- name: '{name}'\n")
    line = line_of(text, f"- name: '{name}'")
    (error,) = refused(text)
    assert error.startswith(f"line {line}: accounts[1]")
    assert error.endswith("name: must not be empty.")


def test_a_name_with_surrounding_spaces_is_stripped_as_the_forms_do(exported):
    from integrations_app.config.service import import_config

    text = exported.replace("- name: Acme Holdings\n", "- name: '  Acme Holdings '\n")
    report = import_config(text)
    assert report.errors == [] and report.changes == [], report.lines()


def test_a_header_asking_for_more_memory_than_we_write_is_refused():
    full_configuration()
    sealed = export_config(EVERYTHING, PASSPHRASE)
    line = line_of(sealed, "  kdf: scrypt")
    for asked in ("n: 131072\n  r: 16\n  p: 4", "n: 65536\n  r: 8\n  p: 1", "n: 32768\n  r: 8\n  p: 2"):
        text = sealed.replace(f"n: {secrets.N}\n  r: {secrets.R}\n  p: {secrets.P}", asked)
        assert text != sealed
        (error,) = refused(text, passphrase=PASSPHRASE)
        assert error.startswith(f"line {line}: secrets: the key derivation asks for ")
        assert "more than this version writes (n=32,768, r=8, p=1, 32 MiB)" in error
