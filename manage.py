#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys

NOT_MIGRATED = (
    "The database has no Paystatus tables yet: run `python manage.py migrate` first (`make run` does it).\n"
    "The demo of `make run` keeps its data in var/demo.sqlite3: to reach it, set DATABASE_URL to "
    "sqlite:///var/demo.sqlite3, and DATAFAST_BASE_URL and CHARGEBACKSTOP_BASE_URL to http://127.0.0.1:8700.\n"
)


def _missing_table(error: Exception) -> bool:
    text = str(error)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
    from django.core.management import execute_from_command_line
    from django.db import OperationalError, ProgrammingError

    from dashboard.env import ConfigError

    try:
        execute_from_command_line(sys.argv)
    except ConfigError as error:
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)
    except (OperationalError, ProgrammingError) as error:
        if not _missing_table(error):
            raise
        sys.stderr.write(NOT_MIGRATED)
        sys.exit(2)


if __name__ == "__main__":
    main()
