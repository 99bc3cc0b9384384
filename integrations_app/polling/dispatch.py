"""Finding due sources and running one poll, shared by the Celery tasks and `poll --sync`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations_app.models import ChargebackStopKey, DataFastSite
from integrations_app.polling.chargebackstop import poll_key
from integrations_app.polling.datafast import poll_site
from integrations_app.polling.locks import exclusive
from integrations_app.polling.outcome import PollOutcome
from integrations_app.polling.schedule import lease_end

SOURCES = {"site": (DataFastSite, poll_site), "key": (ChargebackStopKey, poll_key)}


@dataclass(frozen=True)
class Due:
    kind: str  # "site" or "key"
    pk: int
    dispatched_at: datetime

    @property
    def expires(self) -> int:
        """Seconds a queued poll stays valid: after its lease the source is dispatched again anyway."""
        return settings.POLL_LEASE_SECONDS


def claim_due(now: datetime | None = None, *, everything: bool = False) -> list[Due]:
    """Lease every due source and return them. Rows are claimed in one transaction (row locks
    with SKIP LOCKED where the database has them), so two dispatchers never hand out one source twice."""
    now = now or timezone.now()
    due: list[Due] = []
    with transaction.atomic():
        for kind, (model, _) in SOURCES.items():
            rows = model.objects.select_for_update(skip_locked=True).filter(enabled=True)
            if not everything:
                rows = rows.filter(next_poll_at__lte=now)
            claimed = list(rows.only("pk", "next_poll_at").order_by("next_poll_at"))
            for row in claimed:
                row.next_poll_at = lease_end(now)
                due.append(Due(kind, row.pk, now))
            model.objects.bulk_update(claimed, ["next_poll_at"], batch_size=500)
    return due


def run_poll(
    kind: str, pk: int, *, dispatched_at: datetime | None = None, lock_required: bool = True
) -> PollOutcome | None:
    """Poll one source unless another process is polling it, or it was already polled since this
    dispatch (a redelivered task after a lease ran out); None when skipped or deleted."""
    model, poll = SOURCES[kind]
    # The lock lasts as long as the lease: when a killed worker's lease runs out and the source is
    # dispatched again, the dead worker's lock must not turn the new poll away for longer.
    with exclusive(f"poll:{kind}:{pk}", timeout=settings.POLL_LEASE_SECONDS, required=lock_required) as mine:
        if not mine:
            return None
        if dispatched_at is not None and model.objects.filter(pk=pk, last_polled_at__gte=dispatched_at).exists():
            return None
        try:
            return poll(pk)
        except model.DoesNotExist:
            return None  # deleted between dispatch and poll
