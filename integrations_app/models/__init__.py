"""Every model of the app. The upstreams' own models live in their packages
(`integrations_app.<package>.models`, named in upstreams.py); Django finds them through the
imports below, and they keep the app label `integrations_app` (and so their tables). The two
upstreams' models are re-exported here for the code that imports them from this package."""

from __future__ import annotations

from importlib import import_module

from integrations_app.chargebackstop.models import (
    ChargebackStopKey,
    Integration,
    KeyOrganisation,
    Merchant,
    Organisation,
)
from integrations_app.datafast.models import DataFastAccount, DataFastSite, ProviderState
from integrations_app.models.acks import Acknowledgement, ReminderRecord
from integrations_app.models.alerts import Alert
from integrations_app.models.audit import AuditEntry, FormSubmission
from integrations_app.models.channels import Channel, ChannelKind, Delivery, Vendor
from integrations_app.models.digest import DigestRecord
from integrations_app.models.folding import Cause
from integrations_app.models.history import PollAttempt, Snapshot, StatusChange
from integrations_app.models.links import ClientLink, LinkState
from integrations_app.models.projects import Membership, Project, Role
from integrations_app.models.silences import MaintenanceWindow, Silence, UserProfile
from integrations_app.models.sources import Health
from integrations_app.upstreams import UPSTREAMS

# Django imports this module to find the app's models: every upstream's are imported from here.
for _upstream in UPSTREAMS:
    import_module(f"integrations_app.{_upstream.package}.models")

__all__ = [
    "Acknowledgement",
    "Alert",
    "AuditEntry",
    "Cause",
    "Channel",
    "ChannelKind",
    "ChargebackStopKey",
    "ClientLink",
    "DataFastAccount",
    "DataFastSite",
    "Delivery",
    "DigestRecord",
    "FormSubmission",
    "Health",
    "Integration",
    "KeyOrganisation",
    "LinkState",
    "MaintenanceWindow",
    "Membership",
    "Merchant",
    "Organisation",
    "PollAttempt",
    "Project",
    "ProviderState",
    "ReminderRecord",
    "Role",
    "Silence",
    "Snapshot",
    "StatusChange",
    "UserProfile",
    "Vendor",
]
