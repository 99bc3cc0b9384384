from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from redis.exceptions import RedisError

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.polling.dispatch import claim_due, run_poll
from integrations_app.polling.locks import redis_client
from integrations_app.polling.outcome import PollOutcome

# Not the URL: it may carry Redis's password.
BROKER_UNREACHABLE = "Redis (REDIS_URL), the workers' broker, is unreachable or refused."
INSTEAD = "Start it, or poll in this process with --sync."


def _poll_in_thread(source: tuple[str, int]) -> PollOutcome | None:
    kind, pk = source
    try:
        return run_poll(kind, pk, lock_required=False)
    finally:
        connection.close()  # each thread has its own connection; do not leak it


class Command(BaseCommand):
    help = "Poll every enabled source now: through the workers, or in this process with --sync."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sync",
            action="store_true",
            help="Poll and send the resulting alerts in this process (no broker or worker needed), then summarise.",
        )

    def handle(self, *args: Any, sync: bool = False, **options: Any) -> None:
        if not sync:
            self.queue_everything()
            return
        batches = claim_due(everything=True)
        sources = [(batch.kind, pk) for batch in batches for pk in batch.pks]
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=settings.POLL_CONCURRENCY) as pool:
            outcomes = [outcome for outcome in pool.map(_poll_in_thread, sources) if outcome is not None]
        report = send_pending_alerts(wait=False)
        elapsed = time.monotonic() - started
        failed = [outcome for outcome in outcomes if not outcome.ok]
        changes = sum(len(outcome.changes) for outcome in outcomes)
        self.stdout.write(
            f"Polled {len(outcomes)} sources in {elapsed:.1f} s: {len(outcomes) - len(failed)} ok, "
            f"{len(failed)} failed, {changes} changes, {report.sent} alert emails sent"
            + (f", {report.failed} alert emails failed" if report.failed else "")
            + "."
        )
        for outcome in failed:
            self.stdout.write(f"  failed: {outcome.source} ({outcome.error_kind})")

    def queue_everything(self) -> None:
        """Lease every source and queue its poll; with Redis unreachable, say so before leasing any.
        A failed publish gives the leases back: beat's next tick dispatches the sources."""
        from integrations_app.tasks import PUBLISH_ERRORS, enqueue

        try:
            redis_client().ping()
        except RedisError as error:
            raise CommandError(f"{BROKER_UNREACHABLE} ({type(error).__name__}) {INSTEAD}") from None
        batches = claim_due(everything=True)
        try:
            enqueue(batches)
        except PUBLISH_ERRORS as error:  # the leases are given back
            raise CommandError(
                f"{BROKER_UNREACHABLE} Queuing failed ({type(error).__name__}); some polls may have been "
                f"queued, and every source is due again at beat's next tick. {INSTEAD}"
            ) from None
        self.stdout.write(f"Queued {sum(len(batch.pks) for batch in batches)} polls for the workers.")
