"""`/api/status.json`: the overview's numbers for other tools. A logged-in session or the read
token (`STATUS_API_TOKEN`, sent as `Authorization: Bearer …`) opens it. Wrong tokens are counted
per client address: past `STATUS_API_FAILURE_LIMIT` in `STATUS_API_FAILURE_WINDOW` seconds, that
address is answered 429 until the window ends, so the token cannot be guessed at speed."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations_app import throttle
from integrations_app.summary import summary

SCOPE = "status-api-token"


def _token_ok(request: HttpRequest) -> bool:
    expected = settings.STATUS_API_TOKEN
    header = request.headers.get("Authorization", "")
    if not expected or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header.removeprefix("Bearer ").encode(), expected.encode())


@never_cache
@require_safe
def status_json(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        if throttle.over_limit(SCOPE, request):
            response = JsonResponse({"error": "too many wrong tokens from this address; try again later"}, status=429)
            response["Retry-After"] = str(settings.STATUS_API_FAILURE_WINDOW)
            return response
        if not _token_ok(request):
            if "Authorization" in request.headers:  # a guess (no header at all is just a browser)
                throttle.count_failure(SCOPE, request)
            return JsonResponse({"error": "log in, or send the read token as 'Authorization: Bearer …'"}, status=401)
    return JsonResponse({"generated_at": timezone.now().isoformat(), **summary().as_dict()})
