from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from integrations_app import demo_history
from integrations_app.alerts.apprise_send import service_of
from integrations_app.models import (
    Channel,
    ChargebackStopKey,
    DataFastAccount,
    DataFastSite,
    KeyOrganisation,
    Organisation,
    Project,
)
from sandbox.scenarios import DEMO

# Three clients as three projects: (name, website names, organisation ids, the sandbox chat its
# webhook channel posts to, or None for a project with no channel of its own).
PROJECTS = (
    ("Acme Retail", ["Acme Store"], ["org_acme_retail"], "acme-retail"),
    ("Bluebird Media", ["Bluebird Books"], ["org_bluebird_media"], None),
    ("Cedar Hospitality", ["Cedar Coffee Roasters"], ["org_cedar_hospitality"], None),
)


class Command(BaseCommand):
    help = "Register the sandbox's demo credentials (DataFast tokens and websites, ChargebackStop keys). Idempotent."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        names = {website["id"]: website["name"] for website in DEMO["datafast"]["websites"]}
        sites = 0
        for token in DEMO["datafast"]["tokens"]:
            account = DataFastAccount.objects.filter(name=token["label"]).first()
            if account is None:
                account = DataFastAccount(name=token["label"])
                account.set_secret(token["token"])
                account.save()
            for website_id in token["websites"]:
                _, created = DataFastSite.objects.get_or_create(
                    website_id=website_id, defaults={"account": account, "name": names[website_id]}
                )
                sites += created
        # The website no demo token may read, so the dashboard shows what a 403 looks like.
        for website_id, name in names.items():
            if not DataFastSite.objects.filter(website_id=website_id).exists():
                first = DataFastAccount.objects.get(name=DEMO["datafast"]["tokens"][0]["label"])
                DataFastSite.objects.create(website_id=website_id, name=name, account=first)
                sites += 1
        # Organisations with integrations get their label; those without are left to the partner
        # key's discovery (beat asks within a minute of the start), as they would be for a new user.
        with_integrations = {item["organisation_id"] for item in DEMO["chargebackstop"]["integrations"]}
        labels = {org["id"]: org["label"] for org in DEMO["chargebackstop"]["organisations"]}
        for org_id, label in labels.items():
            if org_id not in with_integrations:
                continue
            Organisation.objects.update_or_create(organisation_id=org_id, defaults={"label": label})
        keys = 0
        for entry in DEMO["chargebackstop"]["keys"]:
            if ChargebackStopKey.objects.filter(name=entry["label"]).exists():
                continue
            key = ChargebackStopKey(name=entry["label"], level=entry["level"])
            key.set_secret(entry["key"])
            key.save()
            keys += 1
            if entry.get("organisation_id"):
                KeyOrganisation.objects.get_or_create(
                    key=key,
                    organisation=Organisation.objects.get(organisation_id=entry["organisation_id"]),
                    defaults={"source": KeyOrganisation.Source.MANUAL},
                )
        projects = _projects()
        # 30 days of past changes, so timelines are not empty on the first visit (once only).
        history = demo_history.seed(DEMO)
        self.stdout.write(
            f"Demo data: {sites} new websites, {keys} new ChargebackStop keys, {projects} new projects, "
            f"{history} past changes."
        )


def sandbox_inbox(chat: str) -> str:
    """The Apprise URL of a chat in the sandbox's inbox (sandbox/inbox.py), on the sandbox that
    the DataFast base URL points at."""
    return f"json://{urlsplit(settings.DATAFAST_BASE_URL).netloc}/_sandbox/inbox/{chat}"


def _projects() -> int:
    """The demo's clients as projects (their sources put in them unless already in one), the
    first with a webhook channel to the sandbox's chat inbox. Nothing is changed twice."""
    created = 0
    for name, site_names, organisation_ids, chat in PROJECTS:
        project, new = Project.objects.get_or_create(name=name)
        created += new
        DataFastSite.objects.filter(name__in=site_names, project=None).update(project=project)
        Organisation.objects.filter(organisation_id__in=organisation_ids, project=None).update(project=project)
        if chat and new:
            url = sandbox_inbox(chat)
            Channel.objects.create(name=f"{name} chat", project=project, url=url, service=service_of(url))
    return created
