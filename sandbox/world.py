"""The simulated upstream data (websites, tokens, organisations, keys, integrations) and the
access rules between them. Plain objects, no locking: `SandboxState` owns the lock.

The constants state the upstream contract on their own, from the docs, rather than importing the
client's: the simulator is what catches a client that drifted from the docs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PROVIDERS = ("stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce")
SETTINGS_READ = "settings:read"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$", re.IGNORECASE)
CURRENCY = re.compile(r"^[A-Z]{3}$")

ENABLED, DISABLED = "ENABLED", "DISABLED"
STATUSES = (ENABLED, DISABLED)
CUSTOM_ORDERS = "CUSTOM_ORDERS"
READ, WRITE = "integrations:read", "integrations:write"
ABILITIES = (READ, WRITE)  # the docs: both are granted to every key by default
ORGANISATION, PARTNER = "organisation", "partner"
NAME_MAX_LENGTH = 255


@dataclass
class Website:
    id: str
    name: str
    currency: str
    connected: dict[str, bool]
    paddle_key_expires_at: datetime | None = None

    def as_payload(self) -> dict[str, Any]:
        """One `data[]` entry, keys in the documented order."""
        entry: dict[str, Any] = {}
        for provider in PROVIDERS:
            entry[provider] = {"connected": self.connected[provider]}
        entry["paddle"]["keyExpiresAt"] = js_iso(self.paddle_key_expires_at)
        entry["currency"] = self.currency
        return entry

    def as_summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "currency": self.currency,
            "connected": dict(self.connected),
            "paddle_key_expires_at": js_iso(self.paddle_key_expires_at),
        }


@dataclass
class DataFastToken:
    token: str
    label: str
    scopes: set[str]
    website_ids: set[str]
    revoked: bool = False


@dataclass
class Organisation:
    id: str
    label: str
    partner_id: str | None
    merchant_ids: list[str]


@dataclass
class ApiKey:
    """A ChargebackStop key: organisation-level, or a partner group key (admin or not)."""

    key: str
    label: str
    level: str
    organisation_id: str | None = None
    partner_id: str | None = None
    admin: bool = False
    organisation_ids: frozenset[str] = frozenset()  # a non-admin group's assigned organisations
    abilities: set[str] = field(default_factory=lambda: set(ABILITIES))
    revoked: bool = False

    def can_see(self, organisation: Organisation) -> bool:
        if self.level == ORGANISATION:
            return organisation.id == self.organisation_id
        if organisation.partner_id != self.partner_id:
            return False
        return self.admin or organisation.id in self.organisation_ids


@dataclass
class Integration:
    id: str
    organisation_id: str
    name: str
    type: str
    status: str
    merchant_ids: list[str]

    def as_payload(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "name": self.name,
            "type": self.type,
            "status": self.status,
            "merchant_ids": list(self.merchant_ids),
            "links": [{"rel": "self", "uri": f"/v1/integrations/{self.id}"}],
        }


@dataclass
class World:
    websites: dict[str, Website] = field(default_factory=dict)
    tokens: dict[str, DataFastToken] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    keys: dict[str, ApiKey] = field(default_factory=dict)
    # Dicts keep insertion order: listing in creation order needs nothing more.
    integrations: dict[str, Integration] = field(default_factory=dict)

    def visible_organisation_ids(self, key: ApiKey) -> set[str]:
        return {org.id for org in self.organisations.values() if key.can_see(org)}

    def visible_integrations(self, key: ApiKey) -> list[Integration]:
        visible = self.visible_organisation_ids(key)
        return [item for item in self.integrations.values() if item.organisation_id in visible]


def js_iso(when: datetime | None) -> str | None:
    """`2025-03-01T12:00:00.000Z`, the shape JavaScript's `Date.toISOString()` gives (DataFast's)."""
    if when is None:
        return None
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"
