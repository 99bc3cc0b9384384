from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations_app import demo_history
from integrations_app.models import ChargebackStopKey, DataFastAccount, DataFastSite, KeyOrganisation, Organisation
from sandbox.scenarios import DEMO


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
        labels = {org["id"]: org["label"] for org in DEMO["chargebackstop"]["organisations"]}
        for org_id, label in labels.items():
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
        # 30 days of past changes, so timelines are not empty on the first visit (once only).
        history = demo_history.seed(DEMO)
        self.stdout.write(f"Demo data: {sites} new websites, {keys} new ChargebackStop keys, {history} past changes.")
