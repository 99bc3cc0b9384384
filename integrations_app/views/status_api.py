"""`/api/status.json`: the overview's numbers for other tools. A logged-in session or the read
token (`STATUS_API_TOKEN`, sent as `Authorization: Bearer …`) opens it."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations_app.summary import summary


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.STATUS_API_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected.encode())


@never_cache
@require_safe
def status_json(request: HttpRequest) -> JsonResponse:
    if not (request.user.is_authenticated or _token_ok(request)):
        return JsonResponse({"error": "log in, or send the read token as 'Authorization: Bearer …'"}, status=401)
    return JsonResponse({"generated_at": timezone.now().isoformat(), **summary().as_dict()})
