"""`/healthz`: lets an outside monitor watch the watcher. No login, no secrets, only facts."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.models import Max
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from redis.exceptions import RedisError

from integrations_app.models import Alert, PollAttempt, StatusChange
from integrations_app.polling.locks import redis_client


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


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database_ok()
    broker = broker_ok()
    body: dict[str, object] = {
        "database": "ok" if database else "unreachable",
        "broker": "ok" if broker else "unreachable",
    }
    if database:
        newest = PollAttempt.objects.filter(ok=True).aggregate(at=Max("started_at"))["at"]
        body["newest_successful_poll_age_seconds"] = (
            round((timezone.now() - newest).total_seconds()) if newest else None
        )
        unsent_changes = StatusChange.objects.filter(notify=True, alert__isnull=True).count()
        unsent_alerts = Alert.objects.exclude(status=Alert.Status.SENT).count()
        body["unsent_alerts"] = unsent_alerts + (1 if unsent_changes else 0)
        body["unsent_changes"] = unsent_changes
    healthy = database and broker
    body["status"] = "ok" if healthy else "degraded"
    return JsonResponse(body, status=200 if healthy else 503)
