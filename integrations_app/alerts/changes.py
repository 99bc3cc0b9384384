"""The one writer of state changes: every transition, polled or made in the dashboard, becomes a
StatusChange row here, and the notify policy (`alerts.policy`) decides on the way whether anyone
hears of it. Callers decide the transition itself (with a compare-and-set on the row that moved,
so it is written once) and whether it is worth telling; they never write StatusChange rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from integrations_app.alerts import policy
from integrations_app.models import StatusChange
from integrations_app.text import fit


def change(
    kind: str,
    severity: str,
    *,
    at: datetime,
    old: str = "",
    new: str = "",
    reason: str = "",
    notify: bool = False,
    **fields: Any,
) -> StatusChange:
    """An unsaved change, its words fitted to their columns (upstream names can be any length).
    `notify` is whether its state machine finds it worth telling; `fields` are its links (an
    upstream's columns, `provider`), `actor` and `outside_dashboard`."""
    return StatusChange(
        kind=kind,
        severity=severity,
        at=at,
        old=fit(StatusChange, "old", old),
        new=fit(StatusChange, "new", new),
        reason=fit(StatusChange, "reason", reason),
        notify=notify,
        **fields,
    )


def record(*changes: StatusChange) -> list[StatusChange]:
    """Write the changes (one INSERT), each with the notify policy's answer in `notify` (and its
    silenced mark), decided for the whole batch at once."""
    policy.decide(changes)
    return StatusChange.objects.bulk_create(changes)


def record_change(kind: str, severity: str, *, at: datetime, **fields: Any) -> StatusChange:
    """Build and write one change (see `change` and `record`)."""
    (written,) = record(change(kind, severity, at=at, **fields))
    return written
