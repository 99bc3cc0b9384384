"""Who is asking, and how often they may guess: the client address behind a trusted proxy, and a
per-address limit on wrong status-API tokens.

The address comes from `TRUSTED_PROXY_HEADER` only when the operator names one (a reverse proxy
in front of Paystatus that sets it); otherwise from the socket, so a client cannot choose its own
address by sending the header. django-axes uses `client_ip` for its login lockouts.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        # A proxy appends the address it saw to X-Forwarded-For: the last entry is the one it
        # vouches for; anything before it was sent by the client and may be forged.
        candidate = request.headers.get(header, "").split(",")[-1].strip()
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            pass  # absent or garbled: fall back to the socket's address
    return str(request.META.get("REMOTE_ADDR", ""))


def _failures_key(scope: str, request: HttpRequest) -> str:
    return f"throttle:{scope}:{client_ip(request)}"


def over_limit(scope: str, request: HttpRequest) -> bool:
    """Whether this address has failed `STATUS_API_FAILURE_LIMIT` times within the window. The
    cache is per process (pages must work with Redis down), so each web process counts alone."""
    return int(cache.get(_failures_key(scope, request), 0)) >= settings.STATUS_API_FAILURE_LIMIT


def count_failure(scope: str, request: HttpRequest) -> None:
    """One more failure; the window starts at the first and is not extended by later ones."""
    key = _failures_key(scope, request)
    if not cache.add(key, 1, timeout=settings.STATUS_API_FAILURE_WINDOW):
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=settings.STATUS_API_FAILURE_WINDOW)
