from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from integrations_app.models import ChargebackStopKey, DataFastSite, Snapshot


def digest(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def store_snapshot(source: DataFastSite | ChargebackStopKey, payload: Any, *, now: datetime) -> Snapshot:
    """Keep one row per distinct answer: the same answer again only moves `last_seen_at`."""
    link = {"site": source} if isinstance(source, DataFastSite) else {"key": source}
    fingerprint = digest(payload)
    latest = Snapshot.objects.filter(**link).order_by("-taken_at").only("id", "digest").first()
    if latest is not None and latest.digest == fingerprint:
        Snapshot.objects.filter(pk=latest.pk).update(last_seen_at=now)
        return latest
    return Snapshot.objects.create(**link, taken_at=now, last_seen_at=now, digest=fingerprint, payload=payload)
