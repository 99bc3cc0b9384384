from __future__ import annotations

from integrations_app.models.alerts import Alert
from integrations_app.models.audit import AuditEntry, FormSubmission
from integrations_app.models.chargebackstop import ChargebackStopKey, Integration, KeyOrganisation, Organisation
from integrations_app.models.datafast import DataFastAccount, DataFastSite, ProviderState
from integrations_app.models.history import PollAttempt, Snapshot, StatusChange
from integrations_app.models.sources import Health

__all__ = [
    "Alert",
    "AuditEntry",
    "ChargebackStopKey",
    "DataFastAccount",
    "DataFastSite",
    "FormSubmission",
    "Health",
    "Integration",
    "KeyOrganisation",
    "Organisation",
    "PollAttempt",
    "ProviderState",
    "Snapshot",
    "StatusChange",
]
