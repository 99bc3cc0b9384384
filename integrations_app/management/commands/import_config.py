"""`import_config FILE [--dry-run] [--prune] [--with-secrets]`: make the configuration match a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations_app.config.service import import_config
from integrations_app.management.commands._secret_input import read_secret


class Command(BaseCommand):
    help = (
        "Import a configuration file written by export_config: all of it in one transaction, or nothing. "
        "Reports what it adds, changes and removes; --dry-run only reports."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="The YAML file (- for standard input).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Also remove the rows the file's sections do not list (organisations are never removed).",
        )
        parser.add_argument(
            "--with-secrets",
            action="store_true",
            help="Read the file's encrypted secrets, with the passphrase from standard input or a prompt.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["file"] == "-" and options["with_secrets"]:
            raise CommandError("The passphrase is read from standard input: give the file by name with --with-secrets.")
        data = self._read(options["file"])
        passphrase = read_secret("Passphrase: ") if options["with_secrets"] else None
        report = import_config(data, passphrase=passphrase, prune=options["prune"], dry_run=options["dry_run"])
        lines = report.lines()
        if report.errors:
            for line in lines[1:]:
                self.stderr.write(line)
            raise CommandError(lines[0])
        for line in lines:
            self.stdout.write(line)

    @staticmethod
    def _read(name: str) -> bytes:
        limit = int(settings.CONFIG_MAX_BYTES)
        if name == "-":
            return sys.stdin.buffer.read(limit + 1)
        path = Path(name)
        if not path.is_file():
            raise CommandError(f"No such file: {name}.")
        with path.open("rb") as handle:
            return handle.read(limit + 1)  # one byte over is enough to refuse it, without reading it all
