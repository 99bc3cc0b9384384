"""Placeholder until this module is written: every view answers 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def _missing(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404("not built yet")


create_integration = _missing
rename_integration = _missing
disable_integration = _missing
