from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from integrations_app.models import Snapshot
from integrations_app.models.sources import PolledSource
from integrations_app.upstreams import links


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def store_snapshot(source: PolledSource, payload: Any, *, now: datetime) -> None:
    """Keep one row per distinct answer. Sets `source.snapshot_digest`; the caller saves the source."""
    fingerprint = digest(payload)
    if fingerprint == source.snapshot_digest:
        return
    Snapshot.objects.create(**links(source), taken_at=now, digest=fingerprint, payload=payload)
    source.snapshot_digest = fingerprint
