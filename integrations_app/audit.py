"""Writing the audit log: every change made through the dashboard, with what the upstream said."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from django.contrib.auth.models import AnonymousUser, User
from django.views.decorators.debug import sensitive_variables

from integrations_app import upstreams
from integrations_app.models import AuditEntry, DataFastSite, Integration, Organisation, Project
from integrations_app.models.secret_field import SecretUnreadable
from integrations_app.upstream.secret import mask

# How targets are written ("site NAME (website_id)", "integration ID", "organisation ID"): what
# names a source whose project the entry then belongs to.
TARGET = re.compile(r"^(?P<kind>site|integration|organisation) (?P<rest>.+)$", re.DOTALL)
SITE_ID = re.compile(r"\((?P<id>[0-9a-fA-F]{24})\)$")
BEARER = re.compile(r"(?P<scheme>Bearer\s+)[^\s\"',;]+", re.IGNORECASE)


@sensitive_variables("values")
def known_secrets() -> list[str]:
    """Every stored secret that can be read, longest first (so no shorter one splits it)."""
    values = []
    for model in upstreams.secret_models():
        for secret in model._default_manager.values_list(model.SECRET_FIELD, flat=True):
            try:
                values.append(secret.reveal())
            except SecretUnreadable:
                continue  # never sent anywhere, so no upstream can echo it
    return sorted(values, key=len, reverse=True)


def redact(value: Any, secrets: list[str]) -> Any:
    """`value` with bearer tokens and anything equal to a known secret masked, keys included."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, mask(secret))
        return BEARER.sub(lambda match: f"{match['scheme']}{mask('')}", value)
    if isinstance(value, dict):
        return {redact(str(key), secrets): redact(item, secrets) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(item, secrets) for item in value]
    return value


def record(
    user: User | AnonymousUser,
    action: str,
    target: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ok: bool = True,
    upstream_status: int | None = None,
    upstream_answer: Any = "",
    project: Project | int | Literal["derive"] | None = "derive",
) -> AuditEntry:
    """`before`/`after` must never hold a secret: callers pass field values, secrets as their hint."""
    # An upstream may send back what it was sent: redacted before it is stored, and before the cut,
    # so that a secret straddling the 500th character cannot leave its first characters behind.
    answer = upstream_answer if isinstance(upstream_answer, str) else json.dumps(upstream_answer, default=str)
    if answer:
        answer = redact(answer, known_secrets())
    if project == "derive":  # not given: the project of the source the target names
        project = project_of_target(target)
    return AuditEntry.objects.create(
        project_id=project.pk if isinstance(project, Project) else project,
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


def project_of_target(target: str) -> int | None:
    """The project of the website, organisation or integration a target names (one query), so
    every entry about a project's source is readable by its members; None for anything else."""
    match = TARGET.match(target)
    if match is None:
        return None
    kind, rest = match["kind"], match["rest"]
    found: int | None
    if kind == "site":
        site_id = SITE_ID.search(rest)
        sites = DataFastSite.objects.filter(website_id=site_id["id"] if site_id else "")
        found = sites.values_list("project_id", flat=True).first()
    elif kind == "organisation":
        found = Organisation.objects.filter(organisation_id=rest).values_list("project_id", flat=True).first()
    else:
        integrations = Integration.objects.filter(integration_id=rest)
        found = integrations.values_list("organisation__project_id", flat=True).first()
    return found


AuditRow = tuple[str, dict[str, Any], dict[str, Any], int | None]  # target, before, after, project id


def record_many(user: User | AnonymousUser, action: str, rows: list[AuditRow]) -> None:
    """One entry per (target, before, after, project id), written in one INSERT (a bulk change of
    many rows costs the same few queries as one). For changes with no upstream answer."""
    AuditEntry.objects.bulk_create(
        AuditEntry(
            user=user if user.is_authenticated else None,
            username=user.get_username() if user.is_authenticated else "anonymous",
            action=action,
            target=target[:200],
            before=before,
            after=after,
            project_id=project_id,
        )
        for target, before, after, project_id in rows
    )
