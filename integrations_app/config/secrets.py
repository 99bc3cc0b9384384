"""Secrets in a configuration file, under a passphrase the operator gives: never in clear.

The key is derived with Scrypt (a fresh random salt per file), and each secret is a Fernet token
(AES-128-CBC with HMAC-SHA256, so a wrong passphrase or a changed value is detected, never read as
garbage). The file's `secrets:` header holds the KDF's parameters and a check token, so a wrong
passphrase is refused once, up front. Parameters read from a file are bounded: a hostile file
cannot make the import spend more than what this version writes (n, r and p each at most ours):
a web process has 250 MB in all, and a header asking for 256 MiB would be over it.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.views.decorators.debug import sensitive_variables

KDF = "scrypt"
N, R, P = 2**15, 8, 1  # about 32 MiB (128·n·r bytes) and a tenth of a second: the cost of one guess
CHECK = b"paystatus-config-v1"
MIN_PASSPHRASE = 10


class PassphraseError(Exception):
    """No passphrase, a wrong one, or a header that cannot be used, in words."""


@dataclass(frozen=True)
class Box:
    """Encrypts and decrypts a file's secrets under one passphrase."""

    fernet: Fernet
    header: dict[str, Any]

    def seal(self, value: str) -> str:
        return self.fernet.encrypt(value.encode()).decode()

    def open(self, token: str) -> str:
        try:
            return self.fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise PassphraseError("an encrypted secret does not open with this passphrase (changed?)") from None


@sensitive_variables("passphrase")
def _key(passphrase: str, salt: bytes, n: int, r: int, p: int) -> Fernet:
    derived = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


@sensitive_variables("passphrase")
def new_box(passphrase: str) -> Box:
    """For an export: a fresh salt, and the header the file carries."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise PassphraseError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")
    salt = os.urandom(16)
    fernet = _key(passphrase, salt, N, R, P)
    header = {
        "kdf": KDF,
        "n": N,
        "r": R,
        "p": P,
        "salt": base64.b64encode(salt).decode(),
        "check": fernet.encrypt(CHECK).decode(),
    }
    return Box(fernet, header)


def _mib(n: int, r: int) -> str:
    return f"{128 * n * r / 2**20:,.0f} MiB"


@sensitive_variables("passphrase")
def open_box(header: dict[str, Any], passphrase: str) -> Box:
    """For an import: the box of the file's header, or PassphraseError (bad header, wrong passphrase)."""
    if header.get("kdf") != KDF:
        raise PassphraseError(f"secrets.kdf must be {KDF}")
    n, r, p = header.get("n"), header.get("r"), header.get("p")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (n, r, p)):
        raise PassphraseError("secrets.n, r and p must be whole numbers")
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)
    if not (n >= 2 and n & (n - 1) == 0 and r >= 1 and p >= 1):
        raise PassphraseError("n must be a power of 2, and r and p at least 1")
    if n > N or r > R or p > P:
        raise PassphraseError(
            f"the key derivation asks for n={n:,}, r={r:,}, p={p:,} ({_mib(n, r)} of memory), more than this "
            f"version writes (n={N:,}, r={R}, p={P}, {_mib(N, R)}): export the file again from this Paystatus"
        )
    try:
        salt = base64.b64decode(str(header.get("salt", "")), validate=True)
    except (binascii.Error, ValueError):
        raise PassphraseError("secrets.salt is not base64") from None
    if len(salt) < 16:
        raise PassphraseError("secrets.salt is too short (16 bytes at least)")
    box = Box(_key(passphrase, salt, n, r, p), dict(header))
    try:
        if box.fernet.decrypt(str(header.get("check", "")).encode()) != CHECK:
            raise InvalidToken
    except InvalidToken:
        raise PassphraseError("wrong passphrase: the file's secrets do not open with it") from None
    return box
