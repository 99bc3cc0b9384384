from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from integrations_app.connection_check import check_datafast
from integrations_app.credentials.forms import MAX_INTERVAL, MIN_INTERVAL, header_safe
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.models import DataFastAccount, DataFastSite
from integrations_app.models.datafast import dft_token_validator


class Command(BaseCommand):
    help = (
        "Watch a DataFast website. The account token (dft_…, scope settings:read) is read from standard "
        "input or a prompt, only when the named account does not exist yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="How the website is shown in Paystatus.")
        parser.add_argument("--website-id", required=True, help="The website's ObjectId in DataFast.")
        parser.add_argument("--account", default="DataFast", help="Account whose token serves this website.")
        parser.add_argument("--interval", type=int, help="Poll interval in seconds (default POLL_INTERVAL_SECONDS).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["interval"] is not None and not MIN_INTERVAL <= options["interval"] <= MAX_INTERVAL:
            raise CommandError(f"interval: a poll interval is {MIN_INTERVAL} to {MAX_INTERVAL} seconds.")
        account = DataFastAccount.objects.filter(name=options["account"]).first()
        new_account = account is None
        if account is None:
            account = DataFastAccount(name=options["account"])
            token = read_secret(f"DataFast token for account {options['account']!r}: ")
            try:
                dft_token_validator(token)
                header_safe(token)
            except ValidationError as error:
                raise CommandError(f"token: {error.messages[0]}") from None
            account.set_secret(token)
        site = DataFastSite(
            account=account,
            name=options["name"],
            website_id=options["website_id"],
            poll_interval_seconds=options["interval"],
        )
        errors = _validation_errors(account, site, new_account)
        if errors:
            raise CommandError("; ".join(errors))
        with transaction.atomic():
            if new_account:
                account.save()
            site.account = account
            site.save()
        self.stdout.write(f"Saved website {site.name} ({site.website_id}) on account {account.name}.")
        result = check_datafast(account.secret, site.website_id)
        self.stdout.write(result.summary)
        for line in result.details:
            self.stdout.write(f"  {line}")


def _validation_errors(account: DataFastAccount, site: DataFastSite, new_account: bool) -> list[str]:
    errors: list[str] = []
    # Each error names the option it came from: the account's name is --account, not --name.
    checks = [(account, ["secret"], {"name": "account"})] if new_account else []
    checks.append((site, ["account"], {"poll_interval_seconds": "interval"}))
    for instance, exclude, option_names in checks:
        try:
            instance.full_clean(exclude=exclude)
        except ValidationError as error:
            errors += [
                f"{option_names.get(field, field.replace('_', '-'))}: {' '.join(messages)}"
                for field, messages in error.message_dict.items()
            ]
    return errors
