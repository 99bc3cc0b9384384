"""Account and key names unique ignoring case in the database, as the forms and a configuration
file compare them: so whatever a command or the admin made exports into a file that imports."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from integrations_app.config.service import export_config, import_config
from integrations_app.models import ChargebackStopKey, DataFastAccount
from integrations_app.scoping import EVERYTHING
from tests import demo
from tests.config.build import full_configuration

BEFORE = [("integrations_app", "0015_merge_acks_discovery")]
AFTER = [("integrations_app", "0016_fixcfg_names_unique_ci")]


@pytest.mark.django_db
def test_names_differing_only_in_case_are_refused_by_the_database():
    full_configuration()
    for model, name in ((DataFastAccount, "ACME holdings"), (ChargebackStopKey, "northwind")):
        with pytest.raises(IntegrityError), transaction.atomic():
            row = model(name=name, **({"level": "partner"} if model is ChargebackStopKey else {}))
            row.set_secret(demo.DATAFAST_TOKEN.reveal())
            row.save()
    text = export_config(EVERYTHING)
    assert import_config(text).errors == []


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_the_later_of_names_differing_only_in_case():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    Account = apps.get_model("integrations_app", "DataFastAccount")
    Key = apps.get_model("integrations_app", "ChargebackStopKey")
    for name in ("Acme", "acme", "Acme (2)", "ACME", "Bluebird"):
        Account.objects.create(name=name, secret="dft_placeholder")
    Key.objects.create(name="Northwind", level="partner", secret="dft_placeholder")
    Key.objects.create(name="NORTHWIND", level="partner", secret="dft_placeholder")
    long = "x" * 100
    Key.objects.create(name=long.upper(), level="partner", secret="dft_placeholder")
    Key.objects.create(name=long, level="partner", secret="dft_placeholder")
    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        accounts = apps.get_model("integrations_app", "DataFastAccount").objects.order_by("pk")
        keys = apps.get_model("integrations_app", "ChargebackStopKey").objects.order_by("pk")
        assert [row.name for row in accounts] == ["Acme", "acme (3)", "Acme (2)", "ACME (4)", "Bluebird"]
        assert [row.name for row in keys] == ["Northwind", "NORTHWIND (2)", long.upper(), "x" * 96 + " (2)"]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
