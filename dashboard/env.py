"""Strict reading of the operator contract (see DESIGN.md).

django-environ does the parsing; this module adds what it leaves out: a bad value stops
start-up with a message that names the variable, instead of silently becoming a default.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}

T = TypeVar("T")


class ConfigError(ImproperlyConfigured):
    """A configuration value that cannot be used; the message names the variable."""


env = environ.Env()


def read_dotenv(base_dir: Path) -> None:
    """Load `.env` beside manage.py; real environment variables win over it."""
    dotenv = base_dir / ".env"
    if dotenv.exists():
        environ.Env.read_env(dotenv, overwrite=False)


# django-environ has no type information: each call below states the type it returns.


def _parse(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    raw: str | None = env.str(name, default=None)
    if raw is None:
        return default
    try:
        return parse(raw.strip())
    except (ValueError, TypeError, KeyError) as error:
        raise ConfigError(f"{name}={raw!r} is not valid: expected {expected} ({error}).") from None


def _bool(raw: str) -> bool:
    word = raw.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("not a boolean word")


def boolean(name: str, default: bool) -> bool:
    return _parse(name, default, _bool, "one of true/false, yes/no, on/off, 1/0")


def positive_int(name: str, default: int, minimum: int = 1) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < minimum:
            raise ValueError(f"must be at least {minimum}")
        return value

    return _parse(name, default, parse, "a whole number")


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def weekday(name: str, default: int) -> int:
    """A day of the week by name (`monday`) or number (0 = Monday)."""

    def parse(raw: str) -> int:
        if raw.isdigit() and int(raw) < len(WEEKDAYS):
            return int(raw)
        return WEEKDAYS.index(raw.lower())

    return _parse(name, default, parse, "a weekday name such as monday, or 0 (Monday) to 6")


def hour(name: str, default: int) -> int:
    def parse(raw: str) -> int:
        value = int(raw)
        if not 0 <= value <= 23:
            raise ValueError("must be 0 to 23")
        return value

    return _parse(name, default, parse, "an hour of the day, 0 to 23")


def string(name: str, default: str) -> str:
    value: str = env.str(name, default=default)
    return value


def comma_list(name: str, default: str = "") -> list[str]:
    raw: str = env.str(name, default=default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def url(name: str, default: str) -> str:
    def parse(raw: str) -> str:
        if not raw.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return raw.rstrip("/")

    return _parse(name, default, parse, "an http(s) URL")


def time_zone(name: str, default: str) -> str:
    def parse(raw: str) -> str:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError("unknown time zone") from error
        return raw

    return _parse(name, default, parse, "an IANA zone such as Europe/Paris")


def fernet_keys(name: str) -> list[str]:
    keys = comma_list(name)
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ConfigError(
                f"{name}: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)."
            ) from None
    return keys


def database(name: str, default: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = env.db_url(name, default=default)
    except (ValueError, KeyError, environ.ImproperlyConfigured) as error:
        raise ConfigError(f"{name} is not a database URL django-environ understands: {error}") from None
    return config


def email(name: str, default: str) -> dict[str, Any]:
    try:
        config: dict[str, Any] = env.email_url(name, default=default)
    except (ValueError, KeyError) as error:
        raise ConfigError(f"{name} is not an email URL (smtp://, consolemail://): {error}") from None
    return config


def emails(name: str) -> list[str]:
    addresses = comma_list(name)
    for address in addresses:
        if "@" not in address or address.startswith("@") or address.endswith("@"):
            raise ConfigError(f"{name}: {address!r} is not an email address.")
    return addresses
