"""The alerts page (every alert sent or failed) and the audit page (every change made here)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from integrations_app.models import Alert, AuditEntry

PAGE_SIZE = 50


@login_required
@require_safe
def alerts(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    q = request.GET.get("q", "").replace("\x00", "").strip()[:100]  # PostgreSQL refuses NUL in a query
    rows = Alert.objects.annotate(change_count=Count("changes")).order_by("-created_at", "-id")
    if status in Alert.Status.values:
        rows = rows.filter(status=status)
    else:
        status = ""
    if q:
        rows = rows.filter(subject__icontains=q)
    context = {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "filters": {"status": status, "q": q},
        "statuses": Alert.Status.choices,
    }
    return render(request, "integrations_app/alerts.html", context)


@login_required
@require_safe
def audit(request: HttpRequest) -> HttpResponse:
    action = request.GET.get("action", "")
    username = request.GET.get("user", "").replace("\x00", "").strip()[:150]
    rows = AuditEntry.objects.order_by("-at", "-id")
    actions = list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())
    if action in actions:
        rows = rows.filter(action=action)
    else:
        action = ""
    if username:
        rows = rows.filter(username__iexact=username)
    context = {
        "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
        "filters": {"action": action, "user": username},
        "actions": actions,
    }
    return render(request, "integrations_app/audit.html", context)
