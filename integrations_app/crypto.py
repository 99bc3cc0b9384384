"""Secrets at rest: a model field encrypted with `MultiFernet` over `FIELD_ENCRYPTION_KEYS`.

The first key encrypts, every key decrypts, so keys rotate by putting a new one first and
running `rotate_encryption_key`. A value no key can open raises `SecretUnreadable`: never an empty
token, never the ciphertext passed off as a token.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from integrations_app.upstream.secret import Secret


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored or read. "
            "Run `make run` once to generate one into .env, or set it in the environment."
        )
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS: the key that encrypted it "
            "is missing from the list (add it back after the new key, then run rotate_encryption_key)."
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt with the first key; raises SecretUnreadable when no key opens it."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from None


class EncryptedSecretField(models.TextField):
    """Holds a `Secret` in Python and Fernet ciphertext in the database.

    Decryption is lazy-safe: reading the column gives a `Secret` (whose repr is masked), so a
    secret cannot slip into a template, a log line or a traceback by being printed.
    """

    description = "An encrypted secret"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None or value == "":
            return None
        return Secret(decrypt(value))

    def to_python(self, value: Any) -> Secret | None:
        if value is None or isinstance(value, Secret):
            return value
        if value == "":
            return None
        return Secret(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, Secret):
            return encrypt(value.reveal())
        return encrypt(str(value))

    def value_to_string(self, obj: models.Model) -> str:
        return ""  # serialisers (dumpdata) never see the secret
