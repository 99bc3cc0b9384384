"""Writing the audit log: every change made through the dashboard, with what the upstream said."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from integrations_app.models import AuditEntry


def record(
    user: AbstractBaseUser | AnonymousUser,
    action: str,
    target: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ok: bool = True,
    upstream_status: int | None = None,
    upstream_answer: Any = "",
) -> AuditEntry:
    """`before`/`after` must never hold a secret: callers pass field values, secrets as their hint."""
    answer = upstream_answer if isinstance(upstream_answer, str) else json.dumps(upstream_answer, default=str)
    return AuditEntry.objects.create(
        user=user if user.is_authenticated else None,
        username=user.get_username() if user.is_authenticated else "anonymous",
        action=action,
        target=target[:200],
        before=before,
        after=after,
        ok=ok,
        upstream_status=upstream_status,
        upstream_answer=answer[:500],
    )
