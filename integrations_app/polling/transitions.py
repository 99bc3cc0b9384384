"""The transitions of subjects (a provider on a website, an integration): which are worth telling.

Rules (DESIGN.md, "State changes are rows"):
- going bad opens an incident and alerts; going good alerts only to close an open incident;
- a subject that changes FLAP_LIMIT times within FLAP_WINDOW gets one flapping notice, then silence
  until it has been quiet for FLAP_QUIET; the notice that ends it says where it settled;
- the notify policy (alerts/policy.py) then decides who hears of each change; the incident
  flags above never depend on its answer, so holding a change back cannot break a recovery;
- a transition is written once, whatever runs twice: two overlapping polls both decide from the
  row they loaded, so the row is moved with a conditional UPDATE on what it held (`_claim`), and
  only the poll whose UPDATE changed it writes the change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import models

from integrations_app.alerts.changes import change, record, record_change
from integrations_app.models import StatusChange
from integrations_app.models.history import ChangeKind, Severity

FLAP_LIMIT = 4
FLAP_WINDOW = timedelta(hours=24)
FLAP_QUIET = timedelta(hours=2)


@dataclass
class Subject:
    """Something with a state that can flip, made by its upstream's poller: a provider on a
    website (datafast.poller), an integration (chargebackstop.poller). Its row has `since`,
    `alert_open` and `flapping_since` beside the state column."""

    row: Any
    kind: str  # the ChangeKind of its transitions
    state_field: str  # the column that holds the state: `connected` or `status`
    links: dict[str, Any] = field(default_factory=dict)  # the columns its changes are written with
    identity: dict[str, Any] = field(default_factory=dict)  # of those, the ones that find its past changes

    def flags(self) -> dict[str, Any]:
        return {"alert_open": self.row.alert_open, "flapping_since": self.row.flapping_since}

    def history(self) -> models.QuerySet[StatusChange]:
        return StatusChange.objects.filter(kind=self.kind, **self.identity)


def claim(row: models.Model, expected: dict[str, Any], values: dict[str, Any]) -> bool:
    """Compare-and-set: write `values` to `row` only if it still holds `expected`. True when this
    caller moved it (and `row` now holds `values`); otherwise `row` is reloaded as it now is."""
    moved = type(row)._default_manager.filter(pk=row.pk, **expected).update(**values) == 1
    if moved:
        for name, value in values.items():
            setattr(row, name, value)
    else:
        row.refresh_from_db(fields=[*expected, *values])
    return moved


def record_transition(
    subject: Subject,
    *,
    to: Any,
    old: str,
    new: str,
    bad: bool | None,
    reason: str,
    now: datetime,
    outside_dashboard: bool = False,
) -> list[StatusChange]:
    """Move the subject's state to `to` and write the change (and a flapping notice when it starts),
    once: nothing when another poll moved the row first. `old`/`new` are the words for the change.
    `bad` is True going into a problem, False coming out of one, None for a neutral move
    (DISABLED to GONE, say). Writes the state, `since` and the flags itself."""
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
        change(
            subject.kind,
            severity,
            at=now,
            old=old,
            new=new,
            reason=reason,
            outside_dashboard=outside_dashboard,
            notify=notify,
            **subject.links,
        )
    ]
    flapping_since, alert_open = row.flapping_since, row.alert_open
    if flapping_since is not None:
        changes[0].notify = False
    elif notify and subject.history().filter(at__gte=now - FLAP_WINDOW).count() + 1 >= FLAP_LIMIT:
        changes[0].notify = False
        flapping_since = now
        changes.append(
            change(
                ChangeKind.FLAPPING,
                Severity.NOTICE,
                at=now,
                old=old,
                new=new,
                reason=f"changed {FLAP_LIMIT} or more times within 24 hours; alerts paused until it settles",
                notify=True,
                **subject.links,
            )
        )
    # The incident follows what is worth telling, never what the notify policy then makes of it.
    if changes[0].notify:
        alert_open = bool(bad)
    expected = {subject.state_field: getattr(row, subject.state_field), **subject.flags()}
    values = {subject.state_field: to, "since": now, "alert_open": alert_open, "flapping_since": flapping_since}
    if not claim(row, expected, values):
        return []
    return record(*changes)


def settle_flapping(subject: Subject, *, current: str, bad: bool, now: datetime) -> StatusChange | None:
    """End a flapping spell once the subject has been quiet for FLAP_QUIET, saying where it settled
    (once, like `record_transition`; it writes the flags itself)."""
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
    if not claim(row, subject.flags(), {"flapping_since": None, "alert_open": bad}):
        return None
    return record_change(
        ChangeKind.FLAPPING,
        severity,
        at=now,
        new=current,
        reason=f"stopped flapping; settled as {current}",
        notify=True,
        **subject.links,
    )
