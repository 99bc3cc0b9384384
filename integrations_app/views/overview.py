from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from integrations_app.models import DataFastSite, Organisation


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    sites = DataFastSite.objects.select_related("account").prefetch_related("providers")
    organisations = Organisation.objects.all()
    return render(request, "integrations_app/overview.html", {"sites": sites, "organisations": organisations})


@login_required
def placeholder(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "integrations_app/overview.html", {"sites": [], "organisations": []})
