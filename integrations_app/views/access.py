"""Who may do what. Staff (the `manage_integrations` permission, given to a user or group in the
admin) may change everything; project members see (and managers change) their projects' sources,
as `integrations_app.scoping` decides. Templates hide what a user may not do; these checks refuse
it anyway."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from integrations_app.scoping import MANAGE, is_staff_wide

__all__ = ["MANAGE", "StaffRequest", "can_manage", "manage_context", "staff_required"]


class StaffRequest(HttpRequest):
    """The request of a `staff_required` view: its user is logged in (the type checker's view)."""

    user: User


def can_manage(user: Any) -> bool:
    """Staff-wide: sees everything and changes everything (scoping.is_staff_wide)."""
    return is_staff_wide(user)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Login first (anonymous users go to the login page), then 403 for viewers."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_manage(request.user):
            raise PermissionDenied("Only staff may change integrations and credentials.")
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def manage_context(request: HttpRequest) -> dict[str, bool]:
    """Context processor: `can_manage` in every template."""
    return {"can_manage": can_manage(request.user)}
