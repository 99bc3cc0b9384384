"""Acknowledging an open problem (and taking it back), from the page of its website, organisation
or integration. A problem is named by the change that opened it (alerts/acks.py). Staff and the
project's managers may; a viewer gets 403, anyone who does not see the problem 404. Audited."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from integrations_app import audit
from integrations_app.ack_forms import AckForm
from integrations_app.alerts import acks, policy
from integrations_app.alerts.describe import page, summary, with_relations
from integrations_app.models import Acknowledgement, StatusChange
from integrations_app.scoping import scope_of


def _problem(request: HttpRequest, pk: int) -> tuple[StatusChange, int | None]:
    """The change that opened a problem, and its project: 404 when the user does not see it, 403
    when they see it but may not change its project's sources."""
    scope = scope_of(request.user)
    change = scope.changes(with_relations(StatusChange.objects.filter(pk=pk))).first()
    if change is None:
        raise Http404("Nothing here.")
    project_id = policy.projects_of([change]).get(change.pk)
    if not scope.can_change(project_id):
        raise PermissionDenied("Only staff and the project's managers may acknowledge its problems.")
    return change, project_id


def _target(change: StatusChange) -> str:
    return f"problem {change.pk}: {summary(change)}"


# Scoping comes before the method check: another project's URL answers 404 to GET and POST alike.
@login_required
def acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    change, project_id = _problem(request, pk)
    return _acknowledge(request, change, project_id)


@require_http_methods(["GET", "POST"])
def _acknowledge(request: HttpRequest, change: StatusChange, project_id: int | None) -> HttpResponse:
    episode = acks.open_episode(change)
    form = AckForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        if episode is None:
            form.add_error(None, "This problem is no longer open: there is nothing to acknowledge.")
        elif episode.ack is not None:
            messages.info(request, f"This problem was already {acks.ack_words(episode.ack)}.")
            return redirect(page(change))
        else:
            comment = form.cleaned_data["comment"]
            try:
                with transaction.atomic():  # with its audit entry, or not at all
                    ack = Acknowledgement.objects.create(
                        opened_by=change,
                        user=cast(User, request.user),
                        username=request.user.get_username(),
                        comment=comment,
                    )
                    audit.record(
                        request.user,
                        "problem.acknowledge",
                        _target(change),
                        after={"comment": comment},
                        project=project_id,
                    )
            except IntegrityError:  # someone else acknowledged it meanwhile
                messages.info(request, "Someone acknowledged this problem a moment ago.")
                return redirect(page(change))
            messages.success(request, f"{summary(episode.latest)}: {acks.ack_words(ack)}.")
            return redirect(page(change))
    context: dict[str, Any] = {"form": form, "change": change, "episode": episode, "back": page(change)}
    return render(request, "integrations_app/acknowledge.html", context)


@login_required
def unacknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    change, project_id = _problem(request, pk)
    return _unacknowledge(request, change, project_id)


@require_POST
def _unacknowledge(request: HttpRequest, change: StatusChange, project_id: int | None) -> HttpResponse:
    ack = Acknowledgement.objects.filter(opened_by=change).first()
    if ack is None:
        messages.info(request, "This problem was not acknowledged.")
        return redirect(page(change))
    with transaction.atomic():
        deleted, _ = Acknowledgement.objects.filter(pk=ack.pk).delete()
        if deleted:  # not withdrawn by someone else meanwhile: audited once
            audit.record(
                request.user,
                "problem.unacknowledge",
                _target(change),
                before={"by": ack.username, "at": ack.at.isoformat(), "comment": ack.comment},
                project=project_id,
            )
    messages.success(request, "The acknowledgement is withdrawn: reminders about this problem start again.")
    return redirect(page(change))


def for_source(request: HttpRequest, changes: Any, project_id: int | None) -> dict[str, Any]:
    """The open problems of a source page, with their acknowledgements (two queries), for `_acks.html`."""
    return {
        "open_problems": acks.open_episodes(changes),
        "ack_can_change": scope_of(request.user).can_change(project_id),
    }
