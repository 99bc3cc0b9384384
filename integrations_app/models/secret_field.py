"""Secrets at rest: a model field encrypted with `MultiFernet` over `FIELD_ENCRYPTION_KEYS`.

The first key encrypts, every key decrypts, so keys rotate by putting a new one first and
running `rotate_encryption_key`. A value no key can open raises `SecretUnreadable`: never an empty
token, never the ciphertext passed off as a token.

Loading a row never decrypts: the field gives a `StoredSecret` that holds the ciphertext and
decrypts only when `reveal()` is called to send a request. A secret whose key rotated away then
breaks only what needs it (that source's poll, its "test connection"), never a page or a batch.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.views.decorators.debug import sensitive_variables

from integrations_app.upstream.secret import Secret, mask

UNREADABLE = "secret unreadable: encryption key missing"


class SecretUnreadable(Exception):
    """A stored secret cannot be decrypted with any configured key."""


@cache
@sensitive_variables()  # the encryption keys stay out of error reports
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored or read. "
            "Run `make run` once to generate one into .env, or set it in the environment."
        )
    return MultiFernet([Fernet(key) for key in keys])


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


@sensitive_variables("value")
def encrypt(value: str) -> str:
    return fernet().encrypt(value.encode()).decode()


# Credentials a process keeps decrypted: more than any deployment has (the accounts and keys).
DECRYPTED_MAX = 4096


@sensitive_variables("token")
def decrypt(token: str) -> str:
    """The plaintext of `token`, decrypted once per process and set of keys: a batch of polls loads
    its accounts afresh, and decrypting each one's token again was ~5 % of a steady poll's CPU.
    The plaintext stays in the process (as it did in every loaded row that revealed it), never
    anywhere else; a token no key opens is not remembered and raises each time."""
    return _decrypted(tuple(settings.FIELD_ENCRYPTION_KEYS), token)


@lru_cache(maxsize=DECRYPTED_MAX)
@sensitive_variables()
def _decrypted(keys: tuple[str, ...], token: str) -> str:
    try:
        return _fernet_for(keys).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            f"{UNREADABLE}: no key in FIELD_ENCRYPTION_KEYS decrypts the stored secret (add the key that "
            "encrypted it back after the new one and run rotate_encryption_key, or enter the secret again)."
        ) from None


def readable(token: str) -> bool:
    """Whether a configured key opens `token`: the signature is checked, nothing is decrypted."""
    try:
        fernet().extract_timestamp(token.encode())
    except InvalidToken:
        return False
    return True


def rotate(token: str) -> str:
    """Re-encrypt with the first key; raises SecretUnreadable when no key opens it."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("A stored secret cannot be decrypted with FIELD_ENCRYPTION_KEYS.") from None


class StoredSecret(Secret):
    """A secret as loaded from the database: the ciphertext, decrypted on the first `reveal()`.

    Its repr shows no tail until it has been revealed, so printing a row never decrypts it.
    """

    __slots__ = ("_ciphertext",)

    def __init__(self, ciphertext: str) -> None:  # no super(): no plaintext until reveal()
        self._ciphertext = ciphertext

    def reveal(self) -> str:
        try:
            return self._value
        except AttributeError:
            self._value = decrypt(self._ciphertext)
            return self._value

    @property
    def ciphertext(self) -> str:
        return self._ciphertext

    @property
    def readable(self) -> bool:
        return readable(self._ciphertext)

    @property
    def masked(self) -> str:
        return mask(self._value) if hasattr(self, "_value") else mask("")

    def rotated(self) -> StoredSecret:
        """The same secret re-encrypted with the first key (SecretUnreadable if no key opens it)."""
        return StoredSecret(rotate(self._ciphertext))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.reveal() == self.reveal()

    def __hash__(self) -> int:
        return hash(self.reveal())


# Read as a `Secret`: the column is NOT NULL and an empty value is never written (it fails the save),
# so a row loaded from the database always has one (`from_db_value`'s None is defensive only).
class EncryptedSecretField(models.TextField[Secret | str | None, Secret]):
    """Holds a `Secret` in Python and Fernet ciphertext in the database.

    Reading the column gives a `StoredSecret` (whose repr is masked), decrypted only when revealed,
    so a secret cannot slip into a template, a log line or a traceback by being printed, and a row
    whose key is gone still loads. Saving a row writes an unrevealed secret back as it was stored.
    """

    description = "An encrypted secret"

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secret | None:
        if value is None or value == "":
            return None
        return StoredSecret(value)

    def to_python(self, value: Any) -> Secret | None:
        if value is None or isinstance(value, Secret):
            return value
        if value == "":
            return None
        return Secret(str(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, StoredSecret):
            return value.ciphertext  # unchanged: never decrypted to be saved again
        if isinstance(value, Secret):
            return encrypt(value.reveal())
        return encrypt(str(value))

    def value_to_string(self, obj: models.Model) -> str:
        return ""  # serialisers (dumpdata) never see the secret


class OptionalEncryptedSecretField(models.TextField[Secret | str | None, Secret | None]):
    """An `EncryptedSecretField` that may be empty (NULL): a row that needs no secret (an email
    channel beside the chat ones whose URL is their secret)."""

    description = "An optional encrypted secret"
    from_db_value = EncryptedSecretField.from_db_value
    to_python = EncryptedSecretField.to_python
    get_prep_value = EncryptedSecretField.get_prep_value
    value_to_string = EncryptedSecretField.value_to_string

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.update(null=True, blank=True)
        super().__init__(*args, **kwargs)
