"""Who hears of a state change: the one place that decides it (DESIGN.md, "notify policy").

Every change is recorded by `alerts.changes.record`, which asks `notify` here before writing it.
The state machines (polling.transitions, polling.outcome, the upstreams' pollers and actions) say
whether a change is *worth telling* (a problem, the recovery of an incident people heard of, a
notice), and keep the incident state (`alert_open`, `health_alert_open`, flapping) from that alone.
This policy then decides whether anyone is actually told, and whom. Because incident state never
depends on its answer, a change it holds back still opens or closes its incident: a problem muted
here is still recovered from, and its recovery is told (unless held back too).

Silences, maintenance windows, dependency folding and routing are branches here. "Mute this site
for 2 hours" is one `if` in `notify` (a silence row matching the change, say), and nothing else.
"""

from __future__ import annotations

from django.conf import settings

from integrations_app.models import StatusChange


def notify(change: StatusChange) -> bool:
    """Whether the change is sent to anyone. `change.notify` holds what its state machine decided
    (worth telling or not); nothing is told that is not worth telling."""
    return change.notify


def recipients() -> list[str]:
    """Who is sent an alert (today everyone in ADMINS, for every change; routing by project or
    channel would take the alert's changes here)."""
    return list(settings.ALERT_RECIPIENTS)
