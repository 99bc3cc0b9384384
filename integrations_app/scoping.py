"""Who sees and changes what: the one home of project scoping.

- A **staff-wide** user (the `manage_integrations` permission) sees and changes everything,
  global sources (in no project) included.
- A **member** (any membership) sees only the sources of their projects, everywhere; a *manager*
  of a project may also change that project's sources and integrations.
- A user with **no membership and no permission** keeps the old read-only view of everything
  when `VIEWERS_SEE_EVERYTHING` is on (the default, so existing viewers keep working), and sees
  nothing otherwise.

Views ask for one `Scope` per request (one query at most, remembered on the user object) and
filter their querysets with it, so scoping adds no query per row. What is out of a user's scope
answers 404; what is in scope but not theirs to change answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from integrations_app.models import (
    Alert,
    AuditEntry,
    Channel,
    ChargebackStopKey,
    ClientLink,
    DataFastAccount,
    DataFastSite,
    Integration,
    KeyOrganisation,
    MaintenanceWindow,
    Membership,
    Organisation,
    Project,
    ProviderState,
    Role,
    Silence,
    StatusChange,
)

MANAGE = "integrations_app.manage_integrations"
M = TypeVar("M", bound=Model)

# How each model reaches its project. None: the model belongs to no project (credentials, keys),
# so only users who see everything see it.
PROJECT_OF: dict[type[Model], str | None] = {
    DataFastSite: "project",
    Organisation: "project",
    Integration: "organisation__project",
    ProviderState: "site__project",
    KeyOrganisation: "organisation__project",
    # A link is seen with its website (its organisation is checked where it is shown).
    ClientLink: "site__project",
    ChargebackStopKey: None,
    DataFastAccount: None,
    Channel: "project",  # a global channel (no project) is seen by those who see everything
    # A silence or window belongs to the project it names, else its source's; none: staff only.
    Silence: "owner_project",
    MaintenanceWindow: "owner_project",
}


@dataclass(frozen=True)
class Scope:
    """What one user may see and change. `everything` users see every source; the others see the
    sources of `projects` and change those of `managed`."""

    everything: bool
    staff_wide: bool
    projects: frozenset[int] = frozenset()
    managed: frozenset[int] = frozenset()

    @property
    def manages_any(self) -> bool:
        return self.staff_wide or bool(self.managed)

    def can_see(self, project_id: int | None) -> bool:
        return self.everything or (project_id is not None and project_id in self.projects)

    def can_change(self, project_id: int | None) -> bool:
        return self.staff_wide or (project_id is not None and project_id in self.managed)

    def filter(self, queryset: QuerySet[M], path: str | None = "") -> QuerySet[M]:
        """`queryset` narrowed to what this scope sees. `path` is the lookup to the project
        (by default the model's own, from PROJECT_OF); a model with none is hidden entirely."""
        if self.everything:
            return queryset
        if path == "":
            if queryset.model not in PROJECT_OF:
                raise LookupError(f"{queryset.model.__name__} has no project scoping rule")  # fail closed
            path = PROJECT_OF[queryset.model]
        if path is None:
            return queryset.none()
        return queryset.filter(**{f"{path}__in": self.projects})

    def managed_filter(self, queryset: QuerySet[M], path: str | None = "") -> QuerySet[M]:
        """`queryset` narrowed to what this scope may change."""
        if self.staff_wide:
            return queryset
        return Scope(everything=False, staff_wide=False, projects=self.managed).filter(queryset, path)

    # --- history -------------------------------------------------------------------------------

    def changes_q(self) -> Q:
        """The status changes this scope sees: those about a website, organisation or integration of
        its projects (a key's own changes belong to no project)."""
        ids = self.projects
        return (
            Q(site__project__in=ids) | Q(organisation__project__in=ids) | Q(integration__organisation__project__in=ids)
        )

    def changes(self, queryset: QuerySet[StatusChange]) -> QuerySet[StatusChange]:
        return queryset if self.everything else queryset.filter(self.changes_q())

    def alerts(self, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        """Alerts with at least one change in scope. A reader who does not see everything is shown
        only those changes of it (views/history.py makes its subject, count and link of them): an
        alert that also covers another project's sources names them in its stored subject."""
        if self.everything:
            return queryset
        return queryset.filter(pk__in=StatusChange.objects.filter(self.changes_q()).values("alert_id"))

    def search_alerts(self, queryset: QuerySet[Alert], words: str) -> QuerySet[Alert]:
        """Alerts whose words contain `words`: the stored subject, for who sees everything; for the
        others the stored subject of an alert wholly theirs, or the names of their own sources and
        providers in one, so another project's names are never matched."""
        if self.everything:
            return queryset.filter(subject__icontains=words)
        theirs = StatusChange.objects.filter(self.changes_q())
        elsewhere = StatusChange.objects.filter(alert__isnull=False).exclude(pk__in=theirs.values("pk"))
        named = theirs.filter(
            Q(site__name__icontains=words)
            | Q(organisation__label__icontains=words)
            | Q(integration__name__icontains=words)
            | Q(provider__icontains=words)
        )
        wholly_theirs = Q(subject__icontains=words) & ~Q(pk__in=elsewhere.values("alert_id"))
        return queryset.filter(wholly_theirs | Q(pk__in=named.values("alert_id")))

    def audit(self, queryset: QuerySet[AuditEntry]) -> QuerySet[AuditEntry]:
        """Audit entries about the projects in scope (each entry names its project when written)."""
        return self.filter(queryset, "project")


EVERYTHING = Scope(everything=True, staff_wide=True)
_CACHE = "_paystatus_scope"


def is_staff_wide(user: Any) -> bool:
    """Staff across the whole dashboard: today's `can_manage` (the manage_integrations permission)."""
    return bool(user.is_authenticated and user.is_active and user.has_perm(MANAGE))


def scope_of(user: Any) -> Scope:
    """The user's scope, computed once per request (remembered on the user object)."""
    cached: Scope | None = getattr(user, _CACHE, None)
    if cached is not None:
        return cached
    if not (user.is_authenticated and user.is_active):
        found = Scope(everything=False, staff_wide=False)
    elif is_staff_wide(user):
        found = EVERYTHING
    else:
        roles = list(Membership.objects.filter(user=user).values_list("project_id", "role"))
        if not roles:
            found = Scope(everything=bool(settings.VIEWERS_SEE_EVERYTHING), staff_wide=False)
        else:
            found = Scope(
                everything=False,
                staff_wide=False,
                projects=frozenset(project for project, _ in roles),
                managed=frozenset(project for project, role in roles if role == Role.MANAGER),
            )
    setattr(user, _CACHE, found)
    return found


def visible_projects(user: Any) -> QuerySet[Project]:
    scope = scope_of(user)
    projects = Project.objects.all()
    return projects if scope.everything else projects.filter(pk__in=scope.projects)


def sites_for(user: Any, queryset: QuerySet[DataFastSite] | None = None) -> QuerySet[DataFastSite]:
    return scope_of(user).filter(DataFastSite.objects.all() if queryset is None else queryset)


def organisations_for(user: Any, queryset: QuerySet[Organisation] | None = None) -> QuerySet[Organisation]:
    return scope_of(user).filter(Organisation.objects.all() if queryset is None else queryset)


def integrations_for(user: Any, queryset: QuerySet[Integration] | None = None) -> QuerySet[Integration]:
    return scope_of(user).filter(Integration.objects.all() if queryset is None else queryset)


def can_manage_project(user: Any, project_id: int | None) -> bool:
    """May change the sources of this project (None: a global source, staff-wide users only)."""
    return scope_of(user).can_change(project_id)


def visible_or_404(user: Any, queryset: QuerySet[M], **lookup: Any) -> M:
    """The object if the user sees it; 404 otherwise, whether it does not exist or is another
    project's (so a URL tells nobody what exists elsewhere)."""
    found = scope_of(user).filter(queryset).filter(**lookup).first()
    if found is None:
        raise Http404("Nothing here.")
    return found


def changeable_or_404(user: Any, queryset: QuerySet[M], project_of: Callable[[M], int | None], **lookup: Any) -> M:
    """The object if the user may change it: 404 when they do not see it, 403 when they see it but
    may not change it (a viewer, or a manager of another of its projects)."""
    found = visible_or_404(user, queryset, **lookup)
    if not can_manage_project(user, project_of(found)):
        raise PermissionDenied("Only staff and the project's managers may change this.")
    return found


def manager_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login first, then 403 unless the user may change something (staff-wide, or a manager of
    some project). For pages that name no object (the create form)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not scope_of(request.user).manages_any:
            raise PermissionDenied("Only staff and project managers may change integrations.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def sees(rows: Callable[[], QuerySet[M]]) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The decorator of pages about one object named by `pk`: login first, then 404 unless the
    user sees the object, then the view, called with the object instead of `pk` (and only then
    its method check: another project's URL answers 404 to GET and POST alike)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
            return view(request, visible_or_404(request.user, rows(), pk=pk), *args, **kwargs)

        return login_required(wrapper)

    return decorator


def manages(
    rows: Callable[[], QuerySet[M]], project_of: Callable[[M], int | None]
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """The one decorator of views that change an object named by `pk`: login first, then 404 when
    the user does not see the object, 403 when they see it but may not change it (a viewer, or a
    manager of another project), and only then the view, called with the object instead of `pk`,
    and its method check. So a URL of another project's object answers 404 to GET and POST alike,
    and tells nobody whether it exists."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, pk: int, **kwargs: Any) -> HttpResponse:
            return view(request, changeable_or_404(request.user, rows(), project_of, pk=pk), *args, **kwargs)

        return login_required(wrapper)

    return decorator
