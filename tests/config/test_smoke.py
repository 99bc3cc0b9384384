"""Smoke tests of configuration as code (the full suite is still to write)."""

from __future__ import annotations

import pytest

from integrations_app.config.service import export_config, import_config
from integrations_app.models import DataFastAccount
from integrations_app.scoping import EVERYTHING
from tests import factories

pytestmark = pytest.mark.django_db
PASSPHRASE = "correct horse battery"


def test_round_trip_into_an_empty_database_gives_the_same_file():
    factories.site()
    factories.key()
    plain = export_config(EVERYTHING)
    sealed = export_config(EVERYTHING, PASSPHRASE)
    DataFastAccount.objects.all().delete()
    from integrations_app.models import ChargebackStopKey, Organisation

    ChargebackStopKey.objects.all().delete()
    Organisation.objects.all().delete()
    report = import_config(sealed, passphrase=PASSPHRASE)
    assert report.errors == [] and report.applied
    assert export_config(EVERYTHING) == plain
    assert import_config(sealed, passphrase=PASSPHRASE).changes == []


def test_billion_laughs_is_refused():
    bomb = 'version: 1\na: &a ["lol","lol"]\nb: &b [*a,*a,*a]\n'
    report = import_config(bomb)
    assert report.errors and "anchors" in report.errors[0]
