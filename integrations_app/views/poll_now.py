"""The "poll now" buttons of the website and key pages: queue a poll for the workers, or say why not."""

from __future__ import annotations

import logging

from celery import Task
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.views.decorators.http import require_POST

from integrations_app import audit, tasks
from integrations_app.models import ChargebackStopKey, DataFastSite
from integrations_app.models.sources import PolledSource
from integrations_app.polling.schedule import lease_end
from integrations_app.scoping import manages
from integrations_app.views.access import staff_required
from integrations_app.views.context import broker_reachable
from integrations_app.views.credentials import KEY, SITE

logger = logging.getLogger(__name__)

BROKER_DOWN = "The worker/broker is unreachable; the poll will run when it is back."


# The one-source poll tasks: `poll_site(pk, dispatched_at=None)`, `poll_key(pk, dispatched_at=None)`.
PollTask = Task[..., dict[str, int]]


def _enqueue(task: PollTask, pk: int) -> bool:
    if not broker_reachable():
        return False
    try:
        task.delay(pk)
    except tasks.PUBLISH_ERRORS:
        logger.warning("Could not queue %s(%s): broker unreachable", task.name, pk, exc_info=True)
        return False
    return True


def _poll_now(request: HttpRequest, source: PolledSource, task: PollTask, target: str) -> HttpResponse:
    rows = type(source)._default_manager.filter(pk=source.pk)
    now = timezone.now()
    # A lease first, as the dispatcher puts one: beat's next tick does not queue the source a second
    # time, and the poll sets the real next time when it finishes. Committed before the task is queued.
    with transaction.atomic():
        rows.update(next_poll_at=lease_end(now))
    queued = _enqueue(task, source.pk)
    if queued:
        messages.success(request, f"Poll queued for {source}; this page shows the result once the worker has run it.")
    else:
        # Due now: beat's dispatcher polls it as soon as the broker is back (if polling is enabled).
        rows.update(next_poll_at=now)
        paused = "" if source.enabled else " Polling is paused for it: enable it first, or poll again then."
        messages.error(request, BROKER_DOWN + paused)
    audit.record(request.user, "poll.now", target, after={"queued": queued}, ok=queued)
    return redirect(source.get_absolute_url())


@manages(DataFastSite.objects.all, lambda site: site.project_id)
@require_POST
def poll_site_now(request: HttpRequest, site: DataFastSite) -> HttpResponse:
    # Staff, or a manager of the website's project (404 out of their projects).
    return _poll_now(request, site, tasks.poll_site, SITE.target(site))


@staff_required
@require_POST
def poll_key_now(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_object_or_404(ChargebackStopKey.objects, pk=pk)
    return _poll_now(request, key, tasks.poll_key, KEY.target(key))
