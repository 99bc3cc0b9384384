"""Small builders for the dashboard's own rows, wired to the sandbox's demo credentials."""

from __future__ import annotations

from typing import TypeVar

from django.contrib.auth.models import Permission, User
from django.utils import timezone

from integrations_app.models import (
    Channel,
    ChannelKind,
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    Project,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity
from integrations_app.upstream.secret import Secret
from tests import demo

T = TypeVar("T")


def present(value: T | None) -> T:
    """`value`, which the test knows is there (a row it made, a poll it ran): a clear failure if not."""
    assert value is not None
    return value


def account(token: Secret = demo.DATAFAST_TOKEN, name: str = "Acme Holdings") -> DataFastAccount:
    found = DataFastAccount.objects.filter(name=name).first()
    if found:
        return found
    created = DataFastAccount(name=name)
    created.set_secret(token.reveal())
    created.save()
    return created


def site(website_id: str = demo.ACME_STORE, name: str = "Acme Store", **fields: object) -> DataFastSite:
    if "account" not in fields:  # not setdefault: that makes the default account even when one is given
        fields["account"] = account()
    return DataFastSite.objects.create(name=name, website_id=website_id, **fields)


def key(
    secret: Secret = demo.PARTNER_KEY, name: str = "Northwind", level: str = "partner", **fields: object
) -> ChargebackStopKey:
    created = ChargebackStopKey(name=name, level=level, **fields)
    created.set_secret(secret.reveal())
    created.save()
    return created


def viewer(username: str = "viewer") -> User:
    return User.objects.create_user(username, password="viewer-password-1")


def staff(username: str = "staff") -> User:
    user = User.objects.create_user(username, password="staff-password-1", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_integrations"))
    return user


def project(name: str = "Client A", **fields: object) -> Project:
    return Project.objects.create(name=name, **fields)


def channel(url: str, name: str = "Chat", **fields: object) -> Channel:
    from integrations_app.alerts.apprise_send import service_of

    return Channel.objects.create(name=name, kind=ChannelKind.APPRISE, url=url, service=service_of(url), **fields)


def disconnections(sites: list[DataFastSite], provider: str = "stripe") -> list[StatusChange]:
    """A notified "provider disconnected" problem recorded on each website now, in one batch, as the
    poller records one (for tests that need many alerts without polling)."""
    from integrations_app.alerts import changes

    now = timezone.now()
    return changes.record(
        *(
            changes.change(
                ChangeKind.PROVIDER,
                Severity.PROBLEM,
                at=now,
                site=site,
                provider=provider,
                old="connected",
                new="not connected",
                notify=True,
            )
            for site in sites
        )
    )
