"""Channel pages: the list (what the user sees through scoping), create, edit, delete and "Send
test message". Staff manage global channels and every project's; a project's managers manage
that project's channels; the others read them (never the URL). Every change is audited with the
channel's project, so its members read it on the Audit page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from integrations_app import audit
from integrations_app.alerts.channels import ChannelError, send_test
from integrations_app.channel_forms import ChannelForm, shown_url
from integrations_app.models import Channel, Delivery
from integrations_app.scoping import manager_required, manages, scope_of, sees

RECENT_DELIVERIES = 20


def _rows() -> QuerySet[Channel]:
    return Channel.objects.select_related("project")


def _project_of(channel: Channel) -> int | None:
    return channel.project_id


def _target(channel: Channel | str) -> str:
    return f"channel {channel}"


def _with_last_delivery(rows: QuerySet[Channel]) -> QuerySet[Channel]:
    latest = Delivery.objects.filter(channel=OuterRef("pk")).order_by("-created_at", "-pk")
    return rows.annotate(
        last_status=Subquery(latest.values("status")[:1]),
        last_error=Subquery(latest.values("last_error")[:1]),
        last_at=Subquery(latest.values("created_at")[:1]),
    )


@login_required
@require_safe
def channel_list(request: HttpRequest) -> HttpResponse:
    scope = scope_of(request.user)
    channels = _with_last_delivery(scope.filter(_rows(), "project")).order_by("project__name", "name", "pk")
    context = {"channels": channels, "can_create": scope.manages_any, "scope": scope}
    return render(request, "integrations_app/channels/list.html", context)


@sees(_rows)
@require_safe
def channel_detail(request: HttpRequest, channel: Channel) -> HttpResponse:
    deliveries = channel.deliveries.select_related("alert").order_by("-created_at", "-pk")[:RECENT_DELIVERIES]
    context = {
        "channel": channel,
        "shown_url": shown_url(channel),
        "deliveries": deliveries,
        "can_change": scope_of(request.user).can_change(channel.project_id),
    }
    return render(request, "integrations_app/channels/detail.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def channel_create(request: HttpRequest) -> HttpResponse:
    return _form_page(request, None)


@manages(_rows, _project_of)
@require_http_methods(["GET", "POST"])
def channel_edit(request: HttpRequest, channel: Channel) -> HttpResponse:
    return _form_page(request, channel)


def _form_page(request: HttpRequest, channel: Channel | None) -> HttpResponse:
    before = None if channel is None else ChannelForm.audit_values(channel)
    form = ChannelForm(
        request.POST if request.method == "POST" else None, instance=channel, scope=scope_of(request.user)
    )
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            saved = form.save()
            after = ChannelForm.audit_values(saved)
            if before is None:
                audit.record(request.user, "channel.create", _target(saved), after=after, project=saved.project)
            else:
                if form.cleaned_data.get("url"):
                    before["url"], after["url"] = f"{before['url']} (replaced)", f"{after['url']} (new)"
                if changed := [name for name in after if after[name] != before[name]]:
                    audit.record(
                        request.user,
                        "channel.update",
                        _target(saved),
                        before={name: before[name] for name in changed},
                        after={name: after[name] for name in changed},
                        project=saved.project,
                    )
        messages.success(request, f"Saved the channel “{saved.name}”. Send it a test message to check it works.")
        return redirect(saved.get_absolute_url())
    context = {
        "form": form,
        "channel": channel,
        "title": "Add a channel" if channel is None else f"Edit the channel “{channel.name}”",
    }
    return render(request, "integrations_app/channels/form.html", context)


@manages(_rows, _project_of)
@require_http_methods(["GET", "POST"])
def channel_delete(request: HttpRequest, channel: Channel) -> HttpResponse:
    if request.method == "POST":
        with transaction.atomic():
            values: dict[str, Any] = ChannelForm.audit_values(channel)
            project = channel.project
            channel.delete()
            audit.record(request.user, "channel.delete", _target(values["name"]), before=values, project=project)
        messages.success(request, f"Deleted the channel “{values['name']}”.")
        return redirect("channel-list")
    return render(request, "integrations_app/channels/confirm_delete.html", {"channel": channel})


@manages(_rows, _project_of)
@require_POST
def channel_test(request: HttpRequest, channel: Channel) -> HttpResponse:
    try:
        outcome = send_test(channel)
    except ChannelError as error:
        messages.error(request, f"The test message was not sent: {error}")
    else:
        messages.success(request, outcome)
    return redirect(channel.get_absolute_url())
