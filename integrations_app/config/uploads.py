"""A file uploaded for a preview, kept server-side until it is applied, by the SHA-256 of its
bytes: the page carries only the hash, never the file or its passphrase, and the import re-checks
the hash, so "Apply" imports exactly the bytes that were previewed.

Kept in the `config_uploads` cache (files under VAR_DIR by default), which every web process
shares, unlike the default per-process cache: the preview and the apply may reach different
gunicorn workers. An entry belongs to the user who uploaded it and expires after an hour.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core.cache import caches

from integrations_app.config.service import Report

CACHE = "config_uploads"
TIMEOUT = 3_600


@dataclass
class Upload:
    data: bytes
    prune: bool
    with_passphrase: bool
    report: Report  # the preview's (no secret: entry names, lines and messages)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(user_id: int, digest: str) -> str:
    return f"config-upload:{user_id}:{digest}"


def keep(user_id: int, upload: Upload) -> str:
    digest = digest_of(upload.data)
    caches[CACHE].set(_key(user_id, digest), upload, timeout=TIMEOUT)
    return digest


def find(user_id: int, digest: str) -> Upload | None:
    found = caches[CACHE].get(_key(user_id, digest))
    if not isinstance(found, Upload) or digest_of(found.data) != digest:
        return None
    return found


def forget(user_id: int, digest: str) -> None:
    caches[CACHE].delete(_key(user_id, digest))
