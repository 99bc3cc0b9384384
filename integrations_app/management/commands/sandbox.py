"""`manage.py sandbox`: an alias of `python -m sandbox`, kept for habit and for Django's -v."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox import cli


class Command(BaseCommand):
    help = cli.DESCRIPTION
    requires_system_checks = ()  # the sandbox needs neither the database nor the app's settings

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        names = ("host", "port", "scenario", "latency", "state_file", "verbosity")
        try:
            cli.serve(**{name: options[name] for name in names}, out=self.stdout)
        except cli.CannotServe as refused:
            raise CommandError(str(refused)) from None
