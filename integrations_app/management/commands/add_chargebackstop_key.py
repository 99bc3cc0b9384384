from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from integrations_app.connection_check import check_chargebackstop
from integrations_app.credentials.forms import MAX_INTERVAL, MIN_INTERVAL, ORGANISATION_ID, header_safe, no_whitespace
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.models import ChargebackStopKey, KeyOrganisation, Organisation
from integrations_app.models.chargebackstop import KeyLevel


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
        key = ChargebackStopKey(name=options["name"], level=options["level"], poll_interval_seconds=options["interval"])
        if options["interval"] is not None and not MIN_INTERVAL <= options["interval"] <= MAX_INTERVAL:
            raise CommandError(f"interval: a poll interval is {MIN_INTERVAL} to {MAX_INTERVAL} seconds.")
        organisation_ids = [value.strip() for value in options["organisation_ids"] if value.strip()]
        if options["level"] == KeyLevel.ORGANISATION and len(organisation_ids) > 1:
            raise CommandError("organisation-id: an organisation-level key reaches exactly one organisation.")
        if bad := [value for value in organisation_ids if not ORGANISATION_ID.fullmatch(value)]:
            raise CommandError(
                "organisation-id: use only letters, digits, _ and - (up to 100 characters), not "
                + ", ".join(repr(value[:40]) for value in bad[:5])
            )
        api_key = read_secret("ChargebackStop API key: ")
        try:
            no_whitespace(api_key)
            header_safe(api_key)
        except ValidationError as error:
            raise CommandError(f"key: {error.messages[0]}") from None
        key.set_secret(api_key)
        option_names = {"poll_interval_seconds": "interval"}  # each error names the option it came from
        try:
            key.full_clean(exclude=["secret"])
        except ValidationError as error:
            raise CommandError(
                "; ".join(
                    f"{option_names.get(field, field)}: {' '.join(messages)}"
                    for field, messages in error.message_dict.items()
                )
            ) from None
        with transaction.atomic():
            key.save()
            for organisation_id in organisation_ids:
                organisation, _ = Organisation.objects.get_or_create(organisation_id=organisation_id)
                KeyOrganisation.objects.get_or_create(
                    key=key, organisation=organisation, defaults={"source": KeyOrganisation.Source.MANUAL}
                )
        self.stdout.write(f"Saved {key.get_level_display().lower()}-level key {key.name} ({key.secret_hint}).")
        result = check_chargebackstop(key.secret, level=key.level)
        self.stdout.write(result.summary)
        for line in result.details:
            self.stdout.write(f"  {line}")
