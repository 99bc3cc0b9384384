"""Placeholder until this module is written: every view answers 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse


def _missing(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    raise Http404("not built yet")


poll_site_now = _missing
poll_key_now = _missing
index = _missing
account_create = _missing
account_edit = _missing
account_delete = _missing
site_create = _missing
site_edit = _missing
site_delete = _missing
site_test = _missing
key_create = _missing
key_edit = _missing
key_delete = _missing
key_test = _missing
