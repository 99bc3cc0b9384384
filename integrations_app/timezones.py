"""Each person's own time zone for pages (default TIME_ZONE); digests use the project's.

The zone is kept in the session when a person logs in or changes it (`remember`), so the
middleware activates it with no query of its own: a page's query count is the same whoever reads it.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from integrations_app.models import UserProfile

SESSION_KEY = "paystatus_time_zone"


def remember(request: HttpRequest, name: str) -> None:
    request.session[SESSION_KEY] = name


@receiver(user_logged_in)
def _remember_on_login(sender: Any, request: HttpRequest | None, user: Any, **_: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    name = UserProfile.objects.filter(user=user).values_list("time_zone", flat=True).first()
    if name:
        remember(request, name)
    else:
        request.session.pop(SESSION_KEY, None)


class UserTimeZoneMiddleware:
    """Pages in the reader's zone (their profile's, kept in the session); TIME_ZONE otherwise."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        name = session.get(SESSION_KEY) if session is not None and session.session_key else None
        zone = _zone(name) if name else None
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a zone that has left the tz database
        return None
