"""Staff pages for projects: list, create, edit, delete, a project's sources and members, and the
project a source belongs to (on its page, and in bulk from the overview).

Every change is POST, redirect, GET, and writes audit entries that name the project, so its
members read them on the Audit page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Model, QuerySet
from django.db.models.functions import Lower
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from integrations_app import audit
from integrations_app.alerts import acks
from integrations_app.chargebackstop.models import shown_name
from integrations_app.models import DataFastSite, Membership, Organisation, Project, Role
from integrations_app.project_forms import AssignForm, MemberForm, MoveForm, ProjectForm
from integrations_app.views import silences
from integrations_app.views.access import StaffRequest, staff_required
from integrations_app.views.credentials import SITE


def _target(project: Project | str) -> str:
    return f"project {project}"


@staff_required
@require_safe
def project_list(request: HttpRequest) -> HttpResponse:
    # One query; DISTINCT because the three joins multiply one another's rows.
    projects = Project.objects.annotate(
        site_count=Count("sites", distinct=True),
        organisation_count=Count("organisations", distinct=True),
        member_count=Count("memberships", distinct=True),
    )
    return render(request, "integrations_app/projects/list.html", {"projects": projects})


@staff_required
@require_http_methods(["GET", "POST"])
def project_create(request: StaffRequest) -> HttpResponse:
    return _form_page(request, None)


@staff_required
@require_http_methods(["GET", "POST"])
def project_edit(request: StaffRequest, pk: int) -> HttpResponse:
    return _form_page(request, get_object_or_404(Project, pk=pk))


def _form_page(request: StaffRequest, project: Project | None) -> HttpResponse:
    before = None if project is None else ProjectForm(instance=project).audit_values()
    form = ProjectForm(request.POST if request.method == "POST" else None, instance=project)
    if form.is_valid():
        with transaction.atomic():
            saved = form.save()
            after = form.audit_values()
            if before is None:
                audit.record(request.user, "project.create", _target(saved), after=after, project=saved)
            elif changed := [name for name in after if after[name] != before[name]]:
                audit.record(
                    request.user,
                    "project.update",
                    _target(saved),
                    before={name: before[name] for name in changed},
                    after={name: after[name] for name in changed},
                    project=saved,
                )
        messages.success(request, f"Saved the project “{saved.name}”.")
        return redirect(saved.get_absolute_url())
    context = {
        "form": form,
        "project": project,
        "title": "Create a project" if project is None else f"Edit the project “{project.name}”",
    }
    return render(request, "integrations_app/projects/form.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def project_delete(request: StaffRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    sites = list(project.sites.order_by(Lower("name")).values_list("name", flat=True))
    organisations = [str(org) for org in project.organisations.order_by(Lower(shown_name()), "organisation_id")]
    members = list(project.memberships.order_by("user__username").values_list("user__username", flat=True))
    if request.method == "POST":
        with transaction.atomic():
            name = project.name
            project.delete()  # its sources become global (SET_NULL); memberships go with it
            audit.record(
                request.user,
                "project.delete",
                _target(name),
                before={"name": name, "websites": sites, "organisations": organisations, "members": members},
                project=None,
            )
        messages.success(request, f"Deleted the project “{name}”; its websites and organisations are global now.")
        return redirect("project-list")
    context = {"project": project, "sites": sites, "organisations": organisations, "members": members}
    return render(request, "integrations_app/projects/confirm_delete.html", context)


@staff_required
@require_safe
def project_detail(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project, pk=pk)
    return _detail(request, project, MemberForm(project=project))


def _detail(request: HttpRequest, project: Project, member_form: MemberForm, status: int = 200) -> HttpResponse:
    sites = list(project.sites.order_by(Lower("name")))
    organisations = list(project.organisations.order_by(Lower(shown_name()), "organisation_id"))
    acks.mark_acknowledged(sites, organisations)
    context = {
        "project": project,
        "sites": sites,
        "organisations": organisations,
        "members": project.memberships.select_related("user").order_by("user__username"),
        "member_form": member_form,
        "roles": Role.choices,
        **silences.for_source(request, f"?project={project.pk}", project_id=project.pk),
    }
    return render(request, "integrations_app/projects/detail.html", context, status=status)


@staff_required
@require_POST
def member_add(request: StaffRequest, pk: int) -> HttpResponse:
    """Add a user, or change the role of one already in the project."""
    project = get_object_or_404(Project, pk=pk)
    form = MemberForm(request.POST, project=project)
    if not form.is_valid():
        return _detail(request, project, form, status=400)
    user, role = form.cleaned_data["username"], form.cleaned_data["role"]
    with transaction.atomic():
        membership, created = Membership.objects.select_for_update().get_or_create(
            project=project, user=user, defaults={"role": role}
        )
        if created:
            after = {"user": user.username, "role": role}
            audit.record(request.user, "project.member.add", _target(project), after=after, project=project)
            messages.success(request, f"Added {user.username} to “{project.name}” as {_role_word(role)}.")
        elif membership.role != role:
            before = {"user": user.username, "role": membership.role}
            membership.role = role
            membership.save(update_fields=["role"])
            after = {"user": user.username, "role": role}
            audit.record(
                request.user, "project.member.update", _target(project), before=before, after=after, project=project
            )
            messages.success(request, f"{user.username} is now {_role_word(role)} of “{project.name}”.")
        else:
            messages.info(request, f"{user.username} is already {_role_word(role)} of “{project.name}”.")
    return redirect(project.get_absolute_url())


def _role_word(role: str) -> str:
    return "a manager" if role == Role.MANAGER else "a viewer"


@staff_required
@require_POST
def member_remove(request: StaffRequest, pk: int, member: int) -> HttpResponse:
    membership = get_object_or_404(Membership.objects.select_related("project", "user"), pk=member, project=pk)
    project, username = membership.project, membership.user.username
    with transaction.atomic():
        before = {"user": username, "role": membership.role}
        membership.delete()
        audit.record(request.user, "project.member.remove", _target(project), before=before, project=project)
    messages.success(request, f"Removed {username} from “{project.name}”.")
    return redirect(project.get_absolute_url())


# --- the project of a source -------------------------------------------------------------------


def _source_target(source: Model) -> str:
    if isinstance(source, DataFastSite):
        return SITE.target(source)
    assert isinstance(source, Organisation)
    return f"organisation {source.organisation_id}"


def _move(request: HttpRequest, rows: QuerySet[Any], project: Project | None) -> int:
    """Put every row of `rows` not already there into `project`, with one audit entry each; a
    constant number of queries however many rows."""
    moving = list(rows.exclude(project=project) if project else rows.exclude(project=None))
    if not moving:
        return 0
    names = dict(Project.objects.filter(pk__in={row.project_id for row in moving}).values_list("pk", "name"))
    with transaction.atomic():
        rows.model._default_manager.filter(pk__in=[row.pk for row in moving]).update(project=project)
        audit.record_many(
            request.user,
            "project.assign",
            [
                (
                    _source_target(row),
                    {"project": names.get(row.project_id)},
                    {"project": project.name if project else None},
                    # The entry belongs where the source now is (or was, when it became global).
                    project.pk if project else row.project_id,
                )
                for row in moving
            ],
        )
    return len(moving)


def _where(project: Project | None) -> str:
    return f"the project “{project.name}”" if project else "no project (global)"


def _assign(request: HttpRequest, rows: QuerySet[Any], pk: int) -> HttpResponse:
    source = get_object_or_404(rows, pk=pk)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["project"]))
        return redirect(source.get_absolute_url())
    project = form.cleaned_data["project"]
    if _move(request, rows.filter(pk=pk), project):
        messages.success(request, f"Moved “{source}” to {_where(project)}.")
    else:
        messages.info(request, f"“{source}” is already in {_where(project)}.")
    return redirect(source.get_absolute_url())


@staff_required
@require_POST
def site_project(request: HttpRequest, pk: int) -> HttpResponse:
    return _assign(request, DataFastSite.objects.only("pk", "name", "website_id", "project"), pk)


@staff_required
@require_POST
def organisation_project(request: HttpRequest, pk: int) -> HttpResponse:
    return _assign(request, Organisation.objects.only("pk", "label", "organisation_id", "project"), pk)


@staff_required
@require_POST
def sources_move(request: HttpRequest) -> HttpResponse:
    """The overview's "Move to project": the ticked websites and organisations, in one go."""
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=False):
        back = ""
    back = back or reverse("overview")
    form = MoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
        return redirect(back)
    project = form.cleaned_data["project"]
    sites = _move(
        request,
        DataFastSite.objects.only("pk", "name", "website_id", "project").filter(pk__in=form.cleaned_data["sites"]),
        project,
    )
    organisations = _move(
        request,
        Organisation.objects.only("pk", "label", "organisation_id", "project").filter(
            pk__in=form.cleaned_data["organisations"]
        ),
        project,
    )
    moved = f"{_count(sites, 'website')} and {_count(organisations, 'organisation')}"
    messages.success(request, f"Moved {moved} to {_where(project)}.")
    return redirect(back)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
