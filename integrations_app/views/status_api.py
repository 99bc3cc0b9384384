"""`/api/status.json`: the overview's numbers for other tools, and every source with a problem in
the pages' words. A logged-in session or the read token (`STATUS_API_TOKEN`, sent as
`Authorization: Bearer …`) opens it. Wrong tokens are counted per client address: past
`STATUS_API_FAILURE_LIMIT` in `STATUS_API_FAILURE_WINDOW` seconds, that address is answered 429
until the window ends, so the token cannot be guessed at speed.

It also lists what holds alerts back (issue 12): the maintenance windows running now or starting
within `WINDOWS_AHEAD`, each with its occurrences in that span, and the silences in force, each
naming the project and the source it applies to. Names and times only: no secret, no URL of a
channel. Both lists cost two queries whatever their length."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from integrations_app import problems, throttle
from integrations_app.models import MaintenanceWindow, Silence
from integrations_app.models.silences import Matchers
from integrations_app.scoping import EVERYTHING, Scope, scope_of
from integrations_app.upstreams import UPSTREAMS
from integrations_app.views.summary import summary

PROBLEM_LIST_MAX = 500  # of each kind: the counts are always complete, the list is bounded
SCOPE = "status-api-token"
WINDOWS_AHEAD = timedelta(days=7)
MATCHER_RELATIONS = ("project", "site", "organisation", "key")
# A rule's source, most specific first (an integration's silence names its organisation too).
SOURCES = (("integration", "integration"), ("website", "site"), ("organisation", "organisation"), ("key", "key"))


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
        {
            "generated_at": now.isoformat(),
            **summary(scope).as_dict(),
            "problems": problem_list(now, scope),
            "maintenance": maintenance_list(now, scope),
            "silences": silence_list(now, scope),
        }
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


def _link(row: Any) -> dict[str, str]:
    return {"name": str(row), "url": settings.SITE_URL + row.get_absolute_url()}


def _applies_to(rule: Matchers) -> dict[str, Any]:
    """What a silence or window covers: its project and its most specific source, null for none."""
    source = next(
        ({"kind": kind, **_link(row)} for kind, name in SOURCES if (row := getattr(rule, name, None)) is not None),
        None,
    )
    return {"project": _link(rule.project) if rule.project else None, "source": source, "words": rule.applies_to()}


def maintenance_list(now: datetime, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """The windows running now or starting within WINDOWS_AHEAD (one query: weekly ones are
    computed here), soonest first."""
    horizon = now + WINDOWS_AHEAD
    rows = scope.filter(MaintenanceWindow.objects.select_related(*MATCHER_RELATIONS)).filter(
        Q(repeat=MaintenanceWindow.Repeat.WEEKLY) | Q(starts_at__lt=horizon, ends_at__gt=now)
    )
    running = [(occurrences, window) for window in rows if (occurrences := window.occurrences(now, horizon))]
    return [
        {
            "name": window.name,
            "active": occurrences[0][0] <= now,
            "schedule": window.schedule_words(),
            "time_zone": window.time_zone,
            "occurrences": [
                {"starts_at": begins.isoformat(), "ends_at": ends.isoformat()} for begins, ends in occurrences
            ],
            **_applies_to(window),
        }
        for occurrences, window in sorted(running, key=lambda each: (each[0][0], each[1].pk))
    ]


def silence_list(now: datetime, scope: Scope = EVERYTHING) -> list[dict[str, Any]]:
    """The silences in force now, those ending first first (one query)."""
    rows = scope.filter(Silence.objects.active_at(now).select_related("created_by", "integration", *MATCHER_RELATIONS))
    return [
        {
            "starts_at": silence.starts_at.isoformat(),
            "ends_at": silence.effective_end.isoformat(),
            "provider": silence.provider or None,
            "change_kind": silence.kind or None,
            "created_by": silence.created_by.get_username() if silence.created_by else None,
            "comment": silence.comment,
            **_applies_to(silence),
        }
        for silence in sorted(rows, key=lambda silence: (silence.effective_end, silence.pk))
    ]
