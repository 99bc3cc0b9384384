"""The simulated upstream data, and the scenario format that describes it.

A scenario (a JSON file in `scenarios/`, or a dict) and a saved state (`--state-file`) have one
shape, so one reader serves both: each entry becomes the dataclass below of the same name, whose
`__post_init__` checks its own fields, and `World.from_scenario` checks what links entries (ids
that exist, merchants of the right organisation). A typo fails loudly at load time, naming the
entry, rather than serving data that quietly disagrees with its author.

The constants restate the upstream contract from the docs instead of importing the client's: the
simulator is what catches a client that drifted from the docs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PROVIDERS = ("stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce")
SETTINGS_READ = "settings:read"
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$", re.IGNORECASE)
CURRENCY = re.compile(r"^[A-Z]{3}$")
ENABLED, DISABLED = "ENABLED", "DISABLED"
STATUSES = (ENABLED, DISABLED)
CUSTOM_ORDERS = "CUSTOM_ORDERS"
READ, WRITE = "integrations:read", "integrations:write"
ORGANISATION, PARTNER = "organisation", "partner"
NAME_MAX_LENGTH = 255


class ScenarioError(ValueError):
    """The scenario data is not valid; the message names the entry and the problem."""


@dataclass
class Website:
    id: str
    name: str
    currency: str = "USD"
    connected: dict[str, bool] = field(default_factory=dict)  # a list of provider names is read too
    paddle_key_expires_at: datetime | None = None  # an ISO 8601 string is read too

    def __post_init__(self) -> None:
        _text(self.name, "name")
        if not isinstance(self.id, str) or not OBJECT_ID.match(self.id):
            raise ValueError(f"id: {self.id!r} is not a 24-hex ObjectId")
        if not isinstance(self.currency, str) or not CURRENCY.match(self.currency):
            raise ValueError(f"currency: {self.currency!r} is not a three-letter upper-case code")
        self.connected = connections(self.connected)
        if isinstance(self.paddle_key_expires_at, str):
            try:
                self.paddle_key_expires_at = datetime.fromisoformat(self.paddle_key_expires_at)
            except ValueError:
                raise ValueError(f"paddle_key_expires_at: {self.paddle_key_expires_at!r} is not ISO 8601") from None
        if self.paddle_key_expires_at is not None and self.paddle_key_expires_at.tzinfo is None:
            self.paddle_key_expires_at = self.paddle_key_expires_at.replace(tzinfo=UTC)

    def as_payload(self) -> dict[str, Any]:
        """One DataFast `data[]` entry, keys in the documented order."""
        entry: dict[str, Any] = {provider: {"connected": self.connected[provider]} for provider in PROVIDERS}
        entry["paddle"]["keyExpiresAt"] = js_iso(self.paddle_key_expires_at)
        entry["currency"] = self.currency
        return entry

    def as_summary(self) -> dict[str, Any]:
        return _plain(self)


@dataclass
class Token:
    """A DataFast account token and the websites it may read."""

    token: str
    websites: set[str]
    label: str = ""
    scopes: set[str] = field(default_factory=lambda: {SETTINGS_READ})
    revoked: bool = False

    def __post_init__(self) -> None:
        if not _text(self.token, "token").startswith("dft_"):
            raise ValueError("token: DataFast account tokens start with 'dft_'")
        self.websites, self.scopes = set(_strings(self.websites, "websites")), set(_strings(self.scopes, "scopes"))


@dataclass
class Organisation:
    id: str
    label: str = ""
    partner_id: str | None = None
    merchant_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _text(self.id, "id")
        self.merchant_ids = _strings(self.merchant_ids, "merchant_ids")


@dataclass
class Key:
    """A ChargebackStop key: organisation-level, or a partner group key (admin, or limited to
    `organisation_ids`). The docs grant both abilities to every key by default."""

    key: str
    level: str
    label: str = ""
    organisation_id: str | None = None
    partner_id: str | None = None
    admin: bool = False
    organisation_ids: set[str] = field(default_factory=set)
    abilities: set[str] = field(default_factory=lambda: {READ, WRITE})
    revoked: bool = False

    def __post_init__(self) -> None:
        _text(self.key, "key")
        if self.level not in (ORGANISATION, PARTNER):
            raise ValueError(f"level: must be {ORGANISATION!r} or {PARTNER!r}")
        _text(self.organisation_id if self.level == ORGANISATION else self.partner_id, f"{self.level}_id")
        self.organisation_ids = set(_strings(self.organisation_ids, "organisation_ids"))
        self.abilities = set(_strings(self.abilities, "abilities"))

    def can_see(self, organisation: Organisation) -> bool:
        if self.level == ORGANISATION:
            return organisation.id == self.organisation_id
        return organisation.partner_id == self.partner_id and (self.admin or organisation.id in self.organisation_ids)


@dataclass
class Integration:
    id: str
    organisation_id: str
    name: str
    type: str
    merchant_ids: list[str]
    status: str = ENABLED

    def __post_init__(self) -> None:
        _text(self.id, "id")
        _text(self.type, "type")
        if len(_text(self.name, "name")) > NAME_MAX_LENGTH:
            raise ValueError(f"name: longer than {NAME_MAX_LENGTH} characters")
        if self.status not in STATUSES:
            raise ValueError(f"status: must be one of {list(STATUSES)}")
        self.merchant_ids = _strings(self.merchant_ids, "merchant_ids")

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


# Scenario sections: (upstream, list name, dataclass, the field that identifies an entry).
SECTIONS = (
    ("datafast", "websites", Website, "id"),
    ("datafast", "tokens", Token, "token"),
    ("chargebackstop", "organisations", Organisation, "id"),
    ("chargebackstop", "keys", Key, "key"),
    ("chargebackstop", "integrations", Integration, "id"),
)


@dataclass
class World:
    # Dicts keep insertion order: listing in creation order needs nothing more.
    websites: dict[str, Website] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    keys: dict[str, Key] = field(default_factory=dict)
    integrations: dict[str, Integration] = field(default_factory=dict)

    @classmethod
    def from_scenario(cls, scenario: Mapping[str, Any], *, now: datetime | None = None) -> World:
        """Build and check a world. `paddle_key_expires_in_days` counts from `now` (load time), so the
        demo always has a key "expiring in 5 days"."""
        world, now = cls(), now or datetime.now(UTC)
        _keys(scenario, "scenario", {upstream for upstream, *_ in SECTIONS})
        for upstream in ("datafast", "chargebackstop"):
            _keys(scenario.get(upstream, {}), upstream, {name for up, name, *_ in SECTIONS if up == upstream})
        for upstream, name, kind, id_field in SECTIONS:
            table = getattr(world, name)
            for index, entry in enumerate(scenario.get(upstream, {}).get(name, [])):
                where = f"{upstream}.{name}[{index}]"
                item = _build(kind, entry, where, now)
                if getattr(item, id_field) in table:
                    raise ScenarioError(f"{where}: duplicate id {getattr(item, id_field)!r}")
                world._check_links(item, where)
                table[getattr(item, id_field)] = item
        return world

    def _check_links(self, item: object, where: str) -> None:
        if isinstance(item, Token):
            _known(item.websites, self.websites, f"{where}.websites")
        elif isinstance(item, Organisation):
            owned = {m for org in self.organisations.values() for m in org.merchant_ids}
            if owned & set(item.merchant_ids) or len(set(item.merchant_ids)) < len(item.merchant_ids):
                raise ScenarioError(f"{where}.merchant_ids: duplicate id {sorted(owned & set(item.merchant_ids))}")
        elif isinstance(item, Key):
            _known(
                [item.organisation_id] if item.organisation_id else [], self.organisations, f"{where}.organisation_id"
            )
            _known(item.organisation_ids, self.organisations, f"{where}.organisation_ids")
            strangers = sorted(o for o in item.organisation_ids if self.organisations[o].partner_id != item.partner_id)
            if strangers:
                raise ScenarioError(f"{where}.organisation_ids: {strangers} belong to another partner")
        elif isinstance(item, Integration):
            _known([item.organisation_id], self.organisations, f"{where}.organisation_id")
            foreign = set(item.merchant_ids) - set(self.organisations[item.organisation_id].merchant_ids)
            if foreign:
                raise ScenarioError(
                    f"{where}.merchant_ids: {sorted(foreign)} are not merchants of {item.organisation_id}"
                )

    def as_scenario(self) -> dict[str, Any]:
        """The world in the scenario format (JSON-able), revocations included: what `--state-file` keeps."""
        scenario: dict[str, Any] = {"datafast": {}, "chargebackstop": {}}
        for upstream, name, *_ in SECTIONS:
            scenario[upstream][name] = [_plain(item) for item in getattr(self, name).values()]
        return scenario

    def visible_integrations(self, key: Key) -> list[Integration]:
        visible = {org.id for org in self.organisations.values() if key.can_see(org)}
        return [item for item in self.integrations.values() if item.organisation_id in visible]


def connections(value: Any) -> dict[str, bool]:
    """Every provider, `True` for those listed (a list of names, or a provider → bool mapping)."""
    chosen = dict(value) if isinstance(value, Mapping) else dict.fromkeys(_strings(value, "connected"), True)
    if unknown := set(chosen) - set(PROVIDERS):
        raise ValueError(f"connected: unknown providers {sorted(unknown)}; known: {list(PROVIDERS)}")
    if not all(isinstance(flag, bool) for flag in chosen.values()):
        raise ValueError("connected: connection flags must be booleans")
    return {provider: chosen.get(provider, False) for provider in PROVIDERS}


def js_iso(when: datetime | None) -> str | None:
    """`2025-03-01T12:00:00.000Z`, the shape JavaScript's `Date.toISOString()` gives (DataFast's)."""
    if when is None:
        return None
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _build(kind: type[Any], entry: Any, where: str, now: datetime) -> Any:
    """One entry as its dataclass: unknown or missing fields, and the dataclass's own checks, fail
    naming the entry."""
    names = {f.name for f in dataclasses.fields(kind)}
    extra = {"paddle_key_expires_in_days"} if kind is Website else set()
    _keys(entry, where, names | extra)
    entry = dict(entry)
    if "paddle_key_expires_in_days" in entry:
        days = entry.pop("paddle_key_expires_in_days")
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise ScenarioError(f"{where}.paddle_key_expires_in_days: must be a number")
        entry["paddle_key_expires_at"] = (now + timedelta(days=days)).replace(microsecond=0)
    required = [f.name for f in dataclasses.fields(kind) if f.default is f.default_factory is dataclasses.MISSING]
    if missing := [name for name in required if name not in entry]:
        raise ScenarioError(f"{where}: missing {missing}")
    try:
        return kind(**entry)
    except ValueError as problem:
        raise ScenarioError(f"{where}.{problem}") from None


def _plain(item: Any) -> dict[str, Any]:
    """A dataclass as JSON-able data: sets as sorted lists, times as DataFast writes them."""
    data = dataclasses.asdict(item)
    for name, value in data.items():
        if isinstance(value, set):
            data[name] = sorted(value)
        elif isinstance(value, datetime):
            data[name] = js_iso(value)
    return data


def _keys(entry: Any, where: str, allowed: set[str]) -> None:
    if not isinstance(entry, Mapping):
        raise ScenarioError(f"{where}: must be a mapping")
    if unknown := set(entry) - allowed:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")


def _known(ids: Any, table: Mapping[str, Any], where: str) -> None:
    if unknown := sorted(set(ids) - set(table)):
        raise ScenarioError(f"{where}: unknown ids {unknown}")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: must be a non-empty string")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name}: must be a list of strings")
    return list(value)
