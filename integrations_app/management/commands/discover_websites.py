from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations_app.datafast import discovery
from integrations_app.datafast.forms import DataFastAccountForm
from integrations_app.management.commands._form_errors import raise_for_errors
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.models import DataFastAccount

ACCOUNT_OPTIONS = {"name": "account", "secret": "token"}


class Command(BaseCommand):
    help = (
        "List the websites a DataFast account's token reads (GET /api/v1/admin/websites, websites:read), by "
        "name and domain, and with --watch-all watch every one not watched yet. A new account's token is read "
        "from standard input or a prompt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="The DataFast account (created when new).")
        parser.add_argument("--watch-all", action="store_true", help="Watch every listed website not watched yet.")

    def handle(self, *args: Any, **options: Any) -> None:
        account = DataFastAccount.objects.filter(name__iexact=options["account"].strip()).first()
        if account is None:
            token = read_secret(f"DataFast token for account {options['account']!r}: ")
            form = DataFastAccountForm(data={"name": options["account"], "secret": token})
            raise_for_errors(form, ACCOUNT_OPTIONS)
            account = form.save()
            self.stdout.write(f"Saved account {account.name}.")
        outcome = discovery.discover(account, quick=True)
        if not outcome.ok:
            raise CommandError(
                f"{outcome.message} To watch a website by its ID: add_datafast_site --account {account.name!r} "
                "--name NAME --website-id ID."
            )
        self.stdout.write(outcome.message)
        rows = discovery.rows(account)
        width = max((len(row.website.display_name) for row in rows), default=0)
        for row in rows:
            state = "watched" if row.site else "set aside" if row.set_aside else "new"
            website = row.website
            self.stdout.write(
                f"  [{state:>9}] {website.display_name:<{width}}  {website.domain}  {website.timezone or '-'}  "
                f"{website.role}  {website.id}"
            )
        for site in outcome.unlisted:
            self.stdout.write(f"  [ unlisted] {site.name}  no longer listed since {site.unlisted_since:%Y-%m-%d %H:%M}")
        offered = [row.website.id for row in rows if row.offered]
        if options["watch_all"]:
            watched = discovery.watch(account, offered)
            self.stdout.write(f"Now watching {len(watched)} more websites; their first poll is due now.")
            for site in watched:
                self.stdout.write(f"  {site.name} ({site.website_id})")
        elif offered:
            self.stdout.write(f"{len(offered)} not watched: run again with --watch-all to watch them.")
