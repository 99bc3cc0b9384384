"""`/healthz`: lets an outside monitor watch the watcher. No login, no secrets, only facts."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from integrations_app import problems
from integrations_app.polling.locks import redis_client
from integrations_app.upstreams import UPSTREAMS
from integrations_app.watcher import watcher_report


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def broker_ok() -> bool:
    try:
        return bool(redis_client().ping())
    except RedisError:
        return False


def sources_with_problem() -> dict[str, int]:
    """How many websites, keys and organisations have a problem, from the one status function:
    facts for the outside monitor, not a reason to degrade (each problem alerts on its own)."""
    return {
        f"{noun}s": problems.with_a_problem(problems.counts(model._default_manager.all()))
        for upstream in UPSTREAMS
        for noun, model in upstream.problem_models()
    }


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_ok()
    broker = broker_ok()
    body: dict[str, object] = {
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
    }
    report = None
    if database:
        try:
            report = watcher_report()
            body["sources_with_problem"] = sources_with_problem()
        except DatabaseError:
            body["database"] = "unreachable"
    if report is not None:
        body.update(report.facts)
        body["problems"] = report.problems
    healthy = database and broker and report is not None and report.healthy
    body["status"] = "ok" if healthy else "degraded"
    return JsonResponse(body, status=200 if healthy else 503)
