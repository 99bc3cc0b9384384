from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from integrations_app.chargebackstop.check import check_chargebackstop
from integrations_app.chargebackstop.forms import ChargebackStopKeyForm
from integrations_app.chargebackstop.models import KeyLevel
from integrations_app.management.commands._form_errors import raise_for_errors
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.upstream.duplicates import duplicate_warning

# Form fields and the options they come from.
KEY_OPTIONS = {"secret": "key", "poll_interval_seconds": "interval", "manual_organisation_ids": "organisation-id"}


class Command(BaseCommand):
    help = "Watch what a ChargebackStop API key can see. The key is read from standard input or a prompt."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="How the key is shown in Paystatus.")
        parser.add_argument("--level", required=True, choices=KeyLevel.values, help="organisation or partner.")
        parser.add_argument(
            "--organisation-id",
            action="append",
            default=[],
            dest="organisation_ids",
            help="An organisation the key can reach that has no integration yet (repeatable).",
        )
        parser.add_argument("--interval", type=int, help="Poll interval in seconds (default POLL_INTERVAL_SECONDS).")

    def handle(self, *args: Any, **options: Any) -> None:
        form = ChargebackStopKeyForm(
            data={
                "name": options["name"],
                "level": options["level"],
                "secret": read_secret("ChargebackStop API key: "),
                "enabled": True,
                "poll_interval_seconds": "" if options["interval"] is None else options["interval"],
                "manual_organisation_ids": "\n".join(options["organisation_ids"]),
            }
        )
        raise_for_errors(form, KEY_OPTIONS)
        with transaction.atomic():
            key = form.save()
        self.stdout.write(f"Saved {key.get_level_display().lower()}-level key {key.name} ({key.secret_hint}).")
        if warning := duplicate_warning(key, key.secret, "ChargebackStop key"):
            self.stderr.write(f"Warning: {warning}")
        result = check_chargebackstop(key.secret, level=key.level)
        self.stdout.write(result.summary)
        for line in result.details:
            self.stdout.write(f"  {line}")
