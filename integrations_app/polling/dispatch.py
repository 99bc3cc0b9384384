"""Finding due sources and running one poll, shared by the Celery tasks and `poll --sync`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations_app.polling.bulk import set_where_pk_in
from integrations_app.polling.locks import exclusive, exclusive_many
from integrations_app.polling.outcome import PollOutcome
from integrations_app.polling.schedule import lease_end
from integrations_app.upstream import http
from integrations_app.upstreams import BY_KIND, UPSTREAMS


@dataclass(frozen=True)
class Batch:
    """Sources of one kind dispatched together: polled one after another by one task."""

    kind: str  # the upstream's `kind` (upstreams.py)
    pks: tuple[int, ...]
    dispatched_at: datetime

    @property
    def expires(self) -> int:
        """Seconds a queued batch stays valid: after its lease each source is dispatched again anyway."""
        return settings.POLL_LEASE_SECONDS


def chunks(items: list[int], size: int) -> list[tuple[int, ...]]:
    return [tuple(items[start : start + size]) for start in range(0, len(items), size)]


def batch_size(due: int, *, concurrent: bool = False) -> int:
    """One source per task while there are few, so they all run at once; up to POLL_BATCH_MAX when
    there are many, so thousands of polls do not cost thousands of broker messages (each costs the
    worker as much CPU as a poll). A batch polled `concurrent`ly on the poll loop takes up to
    POLL_ASYNC_BATCH_MAX: its size no longer decides how many requests are in flight."""
    if concurrent:  # one batch per polling thread is enough to keep its process's loop full
        return max(1, min(settings.POLL_ASYNC_BATCH_MAX, math.ceil(due / settings.POLL_CONCURRENCY)))
    per_thread = math.ceil(due / (settings.POLL_CONCURRENCY * 4))
    return max(1, min(settings.POLL_BATCH_MAX, per_thread))


def claim_due(now: datetime | None = None, *, everything: bool = False) -> list[Batch]:
    """Lease every due source and return them in batches. Rows are claimed in one transaction (row
    locks with SKIP LOCKED where the database has them), so two dispatchers never hand out one
    source twice."""
    now = now or timezone.now()
    batches: list[Batch] = []
    with transaction.atomic():
        for upstream in UPSTREAMS:
            model = upstream.model
            rows = model._default_manager.select_for_update(skip_locked=True).filter(enabled=True)
            if not everything:
                rows = rows.filter(next_poll_at__lte=now)
            pks = list(rows.order_by("next_poll_at").values_list("pk", flat=True))
            set_where_pk_in(model, pks, "next_poll_at", lease_end(now))
            size = batch_size(len(pks), concurrent=settings.POLL_ASYNC and upstream.poll_many is not None)
            batches += [Batch(upstream.kind, chunk, now) for chunk in chunks(pks, size)]
    return batches


def give_back(batches: list[Batch]) -> None:
    """Make the sources of batches that could not be queued due again (a failed publish): the next
    tick dispatches them, instead of their lease holding them for POLL_LEASE_SECONDS. One whose
    message went out before the failure may then be polled twice, one after the other."""
    for batch in batches:
        set_where_pk_in(BY_KIND[batch.kind].model, batch.pks, "next_poll_at", batch.dispatched_at)


def run_poll(
    kind: str, pk: int, *, dispatched_at: datetime | None = None, lock_required: bool = True
) -> PollOutcome | None:
    """Poll one source unless another process is polling it, or it was already polled since this
    dispatch (a redelivered task after a lease ran out); None when skipped or deleted."""
    upstream = BY_KIND[kind]
    # The lock is renewed while the poll runs, so a poll slower than its lease is never started a
    # second time beside it; it runs out one lease after a killed worker, so the dead worker's lock
    # does not turn the redispatched poll away for longer.
    lock = exclusive(f"poll:{kind}:{pk}", timeout=settings.POLL_LEASE_SECONDS, required=lock_required, renew=True)
    with lock as mine:
        if not mine:
            return None
        try:
            return upstream.poll(pk, dispatched_at=dispatched_at)
        except upstream.model.DoesNotExist:
            return None  # deleted between dispatch and poll


@dataclass(frozen=True)
class BatchOutcomes:
    outcomes: list[PollOutcome | None]  # None: skipped (polled elsewhere, already polled, deleted)
    interrupted: int = 0  # sources not polled because the worker is stopping


def run_batch(kind: str, pks: tuple[int, ...] | list[int], *, dispatched_at: datetime | None = None) -> BatchOutcomes:
    """Poll a dispatched batch: with the upstream's `poll_many` when it has one (every overlap
    lock of the batch taken in one round trip, the rows read and written in bulk), else one
    source after another with `run_poll`."""
    upstream = BY_KIND[kind]
    if upstream.poll_many is None:
        outcomes: list[PollOutcome | None] = []
        for index, pk in enumerate(pks):
            try:
                outcomes.append(run_poll(kind, pk, dispatched_at=dispatched_at))
            except http.Interrupted:
                return BatchOutcomes(outcomes, interrupted=len(pks) - index)
        return BatchOutcomes(outcomes)
    names = {pk: f"poll:{kind}:{pk}" for pk in pks}
    with exclusive_many(list(names.values()), timeout=settings.POLL_LEASE_SECONDS) as held:
        mine = [pk for pk in pks if names[pk] in held]
        result = upstream.poll_many(mine, dispatched_at=dispatched_at)
    skipped: list[PollOutcome | None] = [None] * (len(pks) - len(mine))
    return BatchOutcomes([*result.outcomes, *skipped], interrupted=result.interrupted)
