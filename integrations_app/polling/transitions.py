"""Writing state changes, and deciding which of them the admins hear about.

Rules (DESIGN.md, "State changes are rows"):
- going bad opens an incident and alerts; going good alerts only to close an open incident;
- a subject that changes FLAP_LIMIT times within FLAP_WINDOW gets one flapping notice, then silence
  until it has been quiet for FLAP_QUIET; the notice that ends it says where it settled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models

from integrations_app.models import Integration, ProviderState, StatusChange
from integrations_app.models.history import ChangeKind, Severity

FLAP_LIMIT = 4
FLAP_WINDOW = timedelta(hours=24)
FLAP_QUIET = timedelta(hours=2)


@dataclass
class Subject:
    """Something with a state that can flip: a provider on a website, or an integration."""

    row: ProviderState | Integration
    kind: str
    links: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def provider(cls, state: ProviderState) -> Subject:
        return cls(state, ChangeKind.PROVIDER, {"site": state.site, "provider": state.provider})

    @classmethod
    def integration(cls, integration: Integration, key: Any = None) -> Subject:
        links = {"integration": integration, "organisation": integration.organisation, "key": key}
        return cls(integration, ChangeKind.INTEGRATION_STATUS, links)

    def history(self) -> models.QuerySet[StatusChange]:
        if self.kind == ChangeKind.PROVIDER:
            return StatusChange.objects.filter(
                site=self.links["site"], provider=self.links["provider"], kind=ChangeKind.PROVIDER
            )
        return StatusChange.objects.filter(integration=self.row, kind=ChangeKind.INTEGRATION_STATUS)


def record_transition(
    subject: Subject,
    *,
    old: str,
    new: str,
    bad: bool | None,
    reason: str,
    now: datetime,
    outside_dashboard: bool = False,
) -> list[StatusChange]:
    """Write the change (and a flapping notice when it starts); update the subject's flags.
    `bad` is True going into a problem, False coming out of one, None for a neutral move
    (DISABLED to GONE, say). The caller saves `subject.row`."""
    row = subject.row
    if bad is None:
        severity, notify = Severity.INFO, False
    elif bad:
        severity, notify = Severity.PROBLEM, True
    elif row.alert_open:
        severity, notify = Severity.RECOVERY, True
    else:
        severity, notify = Severity.INFO, False

    changes = [
        StatusChange(
            kind=subject.kind,
            severity=severity,
            at=now,
            old=old,
            new=new,
            reason=reason,
            outside_dashboard=outside_dashboard,
            notify=notify,
            **subject.links,
        )
    ]
    if row.flapping_since is not None:
        changes[0].notify = False
    elif notify and subject.history().filter(at__gte=now - FLAP_WINDOW).count() + 1 >= FLAP_LIMIT:
        changes[0].notify = False
        row.flapping_since = now
        changes.append(
            StatusChange(
                kind=ChangeKind.FLAPPING,
                severity=Severity.NOTICE,
                at=now,
                old=old,
                new=new,
                reason=f"changed {FLAP_LIMIT} or more times within 24 hours; alerts paused until it settles",
                notify=True,
                **subject.links,
            )
        )
    if changes[0].notify:
        row.alert_open = bool(bad)
    StatusChange.objects.bulk_create(changes)
    return changes


def settle_flapping(subject: Subject, *, current: str, bad: bool, now: datetime) -> StatusChange | None:
    """End a flapping spell once the subject has been quiet for FLAP_QUIET, saying where it settled."""
    row = subject.row
    if row.flapping_since is None:
        return None
    last = subject.history().order_by("-at").values_list("at", flat=True).first()
    if last is not None and now - last < FLAP_QUIET:
        return None
    if bad and not row.alert_open:
        severity = Severity.PROBLEM
    elif not bad and row.alert_open:
        severity = Severity.RECOVERY
    else:
        severity = Severity.NOTICE
    row.flapping_since = None
    row.alert_open = bad
    return StatusChange.objects.create(
        kind=ChangeKind.FLAPPING,
        severity=severity,
        at=now,
        new=current,
        reason=f"stopped flapping; settled as {current}",
        notify=True,
        **subject.links,
    )
