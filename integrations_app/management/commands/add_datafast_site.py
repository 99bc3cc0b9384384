from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from integrations_app.datafast.check import check_datafast
from integrations_app.datafast.forms import DataFastAccountForm, DataFastSiteForm
from integrations_app.management.commands._form_errors import raise_for_errors
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.models import DataFastAccount
from integrations_app.upstream.duplicates import duplicate_warning

# Form fields and the options they come from (the account form's name is --account).
ACCOUNT_OPTIONS = {"name": "account", "secret": "token"}
SITE_OPTIONS = {"poll_interval_seconds": "interval"}


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
        account = DataFastAccount.objects.filter(name__iexact=options["account"].strip()).first()
        account_form = None
        if account is None:
            token = read_secret(f"DataFast token for account {options['account']!r}: ")
            account_form = DataFastAccountForm(data={"name": options["account"], "secret": token})
            raise_for_errors(account_form, ACCOUNT_OPTIONS)
        with transaction.atomic():  # a new account is kept only with its website
            if account_form is not None:
                account = account_form.save()
            assert account is not None  # found above, or just saved: for the type checker
            site_form = DataFastSiteForm(
                data={
                    "account": account.pk,
                    "name": options["name"],
                    "website_id": options["website_id"],
                    "enabled": True,
                    "poll_interval_seconds": "" if options["interval"] is None else options["interval"],
                }
            )
            raise_for_errors(site_form, SITE_OPTIONS)
            site = site_form.save()
        self.stdout.write(f"Saved website {site.name} ({site.website_id}) on account {site.account.name}.")
        if account_form is not None and (warning := duplicate_warning(account, account.secret, "DataFast account")):
            self.stderr.write(f"Warning: {warning}")
        result = check_datafast(site.account.secret, site.website_id)
        self.stdout.write(result.summary)
        for line in result.details:
            self.stdout.write(f"  {line}")
