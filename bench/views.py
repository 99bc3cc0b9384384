"""Floors for the page timings: what a logged-in page costs before it reads any data."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def floor(request: HttpRequest) -> HttpResponse:
    """A bare view returning a fixed template (session and user lookups included)."""
    return render(request, "bench/floor.html")


@login_required
def floor_layout(request: HttpRequest) -> HttpResponse:
    """The same, inside the product's page layout (navigation, context processors, static tags)."""
    return render(request, "bench/floor_layout.html")
