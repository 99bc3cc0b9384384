"""`export_config [--output FILE] [--with-secrets]`: the configuration as YAML."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations_app.config.service import ExportError, export_config
from integrations_app.management.commands._secret_input import read_secret
from integrations_app.scoping import EVERYTHING


def read_new_passphrase() -> str:
    """Twice at a terminal (a typo would lock the secrets away), once from standard input."""
    if not sys.stdin.isatty():
        return read_secret("Passphrase: ")
    first = getpass.getpass("Passphrase for the secrets: ")
    if first != getpass.getpass("The same passphrase again: "):
        raise CommandError("The two passphrases differ: nothing was written.")
    return first


class Command(BaseCommand):
    help = (
        "Write the configuration (accounts, websites, keys, organisations, projects and members, links, channels, "
        "silences and maintenance windows) as YAML. "
        "Secrets are left out unless --with-secrets is given; they are then encrypted under a passphrase read "
        "from standard input or a prompt."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", help="Write to this file instead of standard output.")
        parser.add_argument(
            "--with-secrets", action="store_true", help="Include the secrets, encrypted under a passphrase."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        passphrase = read_new_passphrase() if options["with_secrets"] else None
        try:
            text = export_config(EVERYTHING, passphrase)
        except ExportError as error:
            raise CommandError(str(error)) from None
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(f"Wrote {options['output']} ({len(text.encode()):,} bytes).")
        else:
            self.stdout.write(text, ending="")
