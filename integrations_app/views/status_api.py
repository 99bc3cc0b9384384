"""`/api/status.json`: the overview's numbers for other tools, and every source with a problem in
the pages' words. A logged-in session or the read token (`STATUS_API_TOKEN`, sent as
`Authorization: Bearer …`) opens it. Wrong tokens are counted per client address: past
`STATUS_API_FAILURE_LIMIT` in `STATUS_API_FAILURE_WINDOW` seconds, that address is answered 429
until the window ends, so the token cannot be guessed at speed."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations_app import problems, throttle
from integrations_app.scoping import EVERYTHING, Scope, scope_of
from integrations_app.upstreams import UPSTREAMS
from integrations_app.views.summary import summary

PROBLEM_LIST_MAX = 500  # of each kind: the counts are always complete, the list is bounded
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
    # The read token is the operators' (every source, as staff see it); a session reads its own scope.
    scope = scope_of(request.user) if request.user.is_authenticated else EVERYTHING
    now = timezone.now()
    return JsonResponse(
        {"generated_at": now.isoformat(), **summary(scope).as_dict(), "problems": problem_list(now, scope)}
    )


def problem_list(now: datetime, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """Websites, keys and organisations with a problem, most serious first, in the words the pages
    use. Four queries whatever the size."""
    quiet = [problems.RANK[problem] for problem in problems.QUIET]
    found: list[dict[str, Any]] = []
    for upstream, kind, model in ((up, noun, model) for up in UPSTREAMS for noun, model in up.problem_models()):
        listed = scope.filter(model._default_manager.exclude(problem_rank__in=quiet))
        rows = list(listed.order_by("problem_rank", "pk")[:PROBLEM_LIST_MAX])
        disconnected = upstream.words.disconnected(rows)
        for row in rows:
            problem = problems.problem_of(row)
            found.append(
                {
                    "kind": kind,
                    "name": str(row),
                    # Every model with a problem state has a page; Model itself does not declare one.
                    "url": settings.SITE_URL + row.get_absolute_url(),  # type: ignore[attr-defined]
                    "problem": problem.value,
                    "words": problems.words(problem, row, disconnected=disconnected.get(row.pk, []), now=now),
                }
            )
    return found
