"""Reading a secret for a command: from standard input, or a prompt on a terminal; never argv."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import CommandError


def read_secret(prompt: str) -> str:
    value = (getpass.getpass(prompt) if sys.stdin.isatty() else sys.stdin.readline()).strip()
    if not value:
        raise CommandError("No secret given: pipe it on standard input or type it at the prompt.")
    return value
