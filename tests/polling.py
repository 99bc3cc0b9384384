"""The pollers as tests call them: a poll a test runs itself is never skipped ("polled since"), so
its outcome is always there, and typed so."""

from __future__ import annotations

from integrations_app.chargebackstop import poller as chargebackstop
from integrations_app.datafast import poller as datafast
from integrations_app.polling.outcome import PollOutcome
from tests.factories import present


def poll_site(site_id: int) -> PollOutcome:
    return present(datafast.poll_site(site_id))


def poll_key(key_id: int) -> PollOutcome:
    return present(chargebackstop.poll_key(key_id))
