"""A configuration with a row of every kind, an empty database, and row counts (to show that a
refused file changed nothing)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Model
from django.utils import timezone

from integrations_app.config.registry import SECTIONS
from integrations_app.models import (
    AuditEntry,
    Channel,
    ChannelKind,
    ChargebackStopKey,
    ClientLink,
    DataFastAccount,
    DataFastSite,
    KeyOrganisation,
    LinkState,
    MaintenanceWindow,
    Membership,
    Organisation,
    Project,
    Role,
    Silence,
)
from tests import demo, factories

PASSPHRASE = "correct horse battery"
MODELS: list[type[Model]] = [
    DataFastAccount,
    DataFastSite,
    ChargebackStopKey,
    KeyOrganisation,
    Organisation,
    Project,
    Membership,
    ClientLink,
    Channel,
    Silence,
    MaintenanceWindow,
]


def full_configuration() -> datetime:
    """Two accounts' worth of rows, channels, silences and windows; returns the `now` used."""
    now = timezone.now().replace(microsecond=0)
    client_a = factories.project("Client A", time_zone="Europe/Paris", reminder_hours=0)
    Membership.objects.create(project=client_a, user=factories.viewer("alice"), role=Role.MANAGER)
    acme = factories.site(project=client_a)
    factories.site(demo.BLUEBIRD_BOOKS, name="Bluebird Books", name_is_custom=True, poll_interval_seconds=600)
    key = factories.key()
    northwind = Organisation.objects.create(organisation_id="org_northwind", label="Northwind", project=client_a)
    KeyOrganisation.objects.create(key=key, organisation=northwind, source=KeyOrganisation.Source.MANUAL)
    ClientLink.objects.create(site=acme, organisation=northwind, state=LinkState.CONFIRMED)
    factories.channel("json://hooks.example/ops", name="Ops chat", vendors=["datafast"], takes_digests=False)
    Channel.objects.create(
        name="Client A mail", kind=ChannelKind.EMAIL, addresses="a@example.com\nb@example.com", project=client_a
    )
    Silence.objects.create(
        site=acme,
        owner_project=client_a,
        provider="stripe",
        starts_at=now,
        ends_at=now + timedelta(hours=2),
        comment="Stripe migration",
    )
    Silence.objects.create(
        project=client_a,
        owner_project=client_a,
        kind="integration_status",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
        comment="Planned work",
    )
    MaintenanceWindow.objects.create(
        name="Sunday backups",
        project=client_a,
        owner_project=client_a,
        repeat="weekly",
        weekdays=[6],
        start_time=time(2, 30),
        duration=timedelta(minutes=90),
        time_zone="Europe/Paris",
    )
    MaintenanceWindow.objects.create(
        name="Move to the new shop",
        site=acme,
        owner_project=client_a,
        repeat="once",
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=4),
        time_zone="America/New_York",
        comment="Big day",
    )
    return now


def empty() -> None:
    """Delete every row a configuration file covers (users stay: they are not in the file)."""
    for section in reversed(SECTIONS):
        section.all_rows().delete()
    Organisation.objects.all().delete()  # learnt, never removed by an import, but not wanted here
    Silence.objects.all().delete()  # the ended ones too


def counts() -> dict[str, int]:
    models: list[type[Model]] = [*MODELS, AuditEntry]
    return {model.__name__: model._default_manager.count() for model in models}
