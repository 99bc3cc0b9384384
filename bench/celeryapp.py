"""The product's Celery app, plus one hook for the bench: when a dispatch task starts and ends
(and how many polls it handed out) goes to a Redis list, so the poll cycle is timed from the
first dispatch. Nothing else differs from `celery -A dashboard worker`."""

from __future__ import annotations

import json
import time
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun
from django.conf import settings

from dashboard.celery import app

DISPATCH_TASK = "integrations_app.tasks.dispatch_due_polls"
DISPATCH_LOG = "paystatus:bench:dispatch"

__all__ = ["DISPATCH_LOG", "app"]


def _log(event: dict[str, Any]) -> None:
    redis.Redis.from_url(settings.REDIS_URL).rpush(DISPATCH_LOG, json.dumps(event))


@task_prerun.connect
def _dispatch_started(sender: Any = None, task_id: str = "", **kwargs: Any) -> None:
    if getattr(sender, "name", "") == DISPATCH_TASK:
        _log({"event": "start", "id": task_id, "at": time.time()})


@task_postrun.connect
def _dispatch_finished(sender: Any = None, task_id: str = "", retval: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", "") == DISPATCH_TASK:
        _log({"event": "end", "id": task_id, "at": time.time(), "dispatched": retval if isinstance(retval, int) else 0})
