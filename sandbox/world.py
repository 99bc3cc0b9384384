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
from zoneinfo import ZoneInfo

PROVIDERS = ("stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce")
SETTINGS_READ, WEBSITES_READ = "settings:read", "websites:read"
ROLES = ("owner", "member", "viewer")
OBJECT_ID = re.compile(r"^[0-9a-f]{24}$", re.IGNORECASE)
CURRENCY = re.compile(r"^[A-Z]{3}$")
ENABLED, DISABLED = "ENABLED", "DISABLED"
STATUSES = (ENABLED, DISABLED)
CUSTOM_ORDERS = "CUSTOM_ORDERS"
READ, WRITE = "integrations:read", "integrations:write"
ORGANISATIONS_READ, MERCHANTS_READ = "organisations:read", "merchants:read"
LIVE, TEST = "LIVE", "TEST"
TEST_PREFIX = "[TEST]"
# Scenarios have no clock: entries without times are created a minute apart from here, in
# scenario order, so "newest first" (the merchants' default sort) is the reverse scenario order.
EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
ORGANISATION, PARTNER = "organisation", "partner"
NAME_MAX_LENGTH = 255


class ScenarioError(ValueError):
    """The scenario data is not valid; the message names the entry and the problem."""


@dataclass
class Website:
    id: str
    name: str  # the sandbox's own name for it (its pages, `load_demo`); see `unnamed`
    currency: str = "USD"
    connected: dict[str, bool] = field(default_factory=dict)  # a list of provider names is read too
    paddle_key_expires_at: datetime | None = None  # an ISO 8601 string is read too
    domain: str | None = None  # None: made from the name ("Acme Store" -> acme-store.example)
    tracking_id: str | None = None  # None: `dfid_` and the end of the id
    timezone: str = "UTC"
    unnamed: bool = False  # the docs allow a website without a display name: `name` is null then
    discovery_only: bool = field(default=False, compare=False)  # set by the section it is read from

    def __post_init__(self) -> None:
        _text(self.name, "name")
        self.domain = self.domain or re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") + ".example"
        self.tracking_id = self.tracking_id or f"dfid_{self.id[-6:]}"
        _text(self.domain, "domain")
        _text(self.tracking_id, "tracking_id")
        try:
            ZoneInfo(_text(self.timezone, "timezone"))
        except (ValueError, KeyError):
            raise ValueError(f"timezone: {self.timezone!r} is not an IANA time zone") from None
        if not isinstance(self.unnamed, bool):
            raise ValueError("unnamed: must be a boolean")
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

    def as_listed(self, role: str) -> dict[str, Any]:
        """One `data[]` entry of the websites listing, keys in the documented order."""
        return {
            "_id": self.id,
            "domain": self.domain,
            "name": None if self.unnamed else self.name,
            "trackingId": self.tracking_id,
            "timezone": self.timezone,
            "currency": self.currency,
            "role": role,
        }

    def as_summary(self) -> dict[str, Any]:
        return _plain(self)


@dataclass
class Token:
    """A DataFast account token and the websites it may read: `websites`, which `load_demo` registers
    in the dashboard, and `discoverable_websites`, which it does not (only a discovery finds them).
    `roles` gives the caller's role per website; an unlisted one is `owner`."""

    token: str
    websites: set[str]
    label: str = ""
    scopes: set[str] = field(default_factory=lambda: {SETTINGS_READ})
    revoked: bool = False
    discoverable_websites: set[str] = field(default_factory=set)
    roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _text(self.token, "token").startswith("dft_"):
            raise ValueError("token: DataFast account tokens start with 'dft_'")
        self.websites, self.scopes = set(_strings(self.websites, "websites")), set(_strings(self.scopes, "scopes"))
        self.discoverable_websites = set(_strings(self.discoverable_websites, "discoverable_websites"))
        if not isinstance(self.roles, Mapping) or not all(role in ROLES for role in self.roles.values()):
            raise ValueError(f"roles: must map website ids to one of {list(ROLES)}")
        self.roles = dict(self.roles)

    def reachable(self) -> set[str]:
        """Every website this token may read (its allowlist)."""
        return self.websites | self.discoverable_websites

    def role(self, website_id: str) -> str:
        return self.roles.get(website_id, "owner")


@dataclass
class Organisation:
    """`label` is the name `load_demo` registers; `name` the one ChargebackStop lists (the label
    when not given). The docs: one partner's organisations are all of one `mode`, and TEST ones
    have names starting with `[TEST]`."""

    id: str
    label: str = ""
    partner_id: str | None = None
    merchant_ids: list[str] = field(default_factory=list)
    name: str | None = None
    mode: str = LIVE
    created_at: datetime | None = None  # None: see EPOCH; an ISO 8601 string is read too

    def __post_init__(self) -> None:
        _text(self.id, "id")
        self.merchant_ids = _strings(self.merchant_ids, "merchant_ids")
        self.name = _text(self.name or self.label or self.id, "name")
        if self.mode not in (LIVE, TEST):
            raise ValueError(f"mode: must be {LIVE!r} or {TEST!r}")
        if (self.mode == TEST) != self.name.startswith(TEST_PREFIX):
            raise ValueError(f"name: TEST organisations, and only they, have names starting with {TEST_PREFIX!r}")
        self.created_at = _time(self.created_at, "created_at")

    def as_payload(self) -> dict[str, Any]:
        when = _iso(self.created_at)
        return {
            "id": self.id,
            "name": self.name,
            "mode": self.mode,
            "created_at": when,
            "updated_at": when,
            "links": [{"rel": "self", "uri": f"/v1/organisations/{self.id}"}],
        }


@dataclass
class Merchant:
    """A merchant's details. Its organisation lists it in `merchant_ids` (the one source of who owns
    what); a listed merchant without an entry gets the defaults (its id as name, GENERIC)."""

    id: str
    organisation_id: str
    name: str | None = None
    type: str = "GENERIC"
    external_id: str | None = None
    default_representment_service_type: str | None = None
    created_at: datetime | None = None  # None: see EPOCH

    def __post_init__(self) -> None:
        _text(self.id, "id")
        _text(self.organisation_id, "organisation_id")
        self.name = _text(self.name or self.id, "name")
        _text(self.type, "type")
        for name in ("external_id", "default_representment_service_type"):
            if getattr(self, name) is not None:
                _text(getattr(self, name), name)
        self.created_at = _time(self.created_at, "created_at")

    def as_payload(self) -> dict[str, Any]:
        when = _iso(self.created_at)
        return {
            "id": self.id,
            "organisation_id": self.organisation_id,
            "name": self.name,
            "type": self.type,
            "external_id": self.external_id,
            "default_representment_service_type": self.default_representment_service_type,
            "created_at": when,
            "updated_at": when,
            "links": [{"rel": "self", "uri": f"/v1/merchants/{self.id}"}],
        }


@dataclass
class Key:
    """A ChargebackStop key: organisation-level, or a partner group key (admin, or limited to
    `organisation_ids`). The docs grant both integrations abilities to every key by default; the
    sandbox grants the two listing abilities too. Requests are counted per `group_id` for the rate
    limit: None means the partner's admin group, or the group of keys assigned the same organisations.
    """

    key: str
    level: str
    label: str = ""
    organisation_id: str | None = None
    partner_id: str | None = None
    admin: bool = False
    organisation_ids: set[str] = field(default_factory=set)
    abilities: set[str] = field(default_factory=lambda: {READ, WRITE, ORGANISATIONS_READ, MERCHANTS_READ})
    revoked: bool = False
    group_id: str | None = None

    def __post_init__(self) -> None:
        _text(self.key, "key")
        if self.group_id is not None:
            _text(self.group_id, "group_id")
        if self.level not in (ORGANISATION, PARTNER):
            raise ValueError(f"level: must be {ORGANISATION!r} or {PARTNER!r}")
        _text(self.organisation_id if self.level == ORGANISATION else self.partner_id, f"{self.level}_id")
        self.organisation_ids = set(_strings(self.organisation_ids, "organisation_ids"))
        self.abilities = set(_strings(self.abilities, "abilities"))

    def group(self) -> str:
        """What the rate limit counts: the organisation, or the partner group."""
        if self.level == ORGANISATION:
            return f"organisation {self.organisation_id}"
        assigned = "admin" if self.admin else "+".join(sorted(self.organisation_ids))
        return f"group {self.group_id or f'{self.partner_id}/{assigned}'}"

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


TABLES = {"discoverable_websites": "websites"}  # a section read into another section's table
# Scenario sections: (upstream, list name, dataclass, the field that identifies an entry).
SECTIONS = (
    ("datafast", "websites", Website, "id"),
    ("datafast", "discoverable_websites", Website, "id"),  # kept in `World.websites` too
    ("datafast", "tokens", Token, "token"),
    ("chargebackstop", "organisations", Organisation, "id"),
    ("chargebackstop", "merchants", Merchant, "id"),
    ("chargebackstop", "keys", Key, "key"),
    ("chargebackstop", "integrations", Integration, "id"),
)


@dataclass
class World:
    # Dicts keep insertion order: listing in creation order needs nothing more.
    websites: dict[str, Website] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    merchants: dict[str, Merchant] = field(default_factory=dict)
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
            table = getattr(world, TABLES.get(name, name))
            for index, entry in enumerate(scenario.get(upstream, {}).get(name, [])):
                where = f"{upstream}.{name}[{index}]"
                item = _build(kind, entry, where, now)
                if getattr(item, id_field) in table:
                    raise ScenarioError(f"{where}: duplicate id {getattr(item, id_field)!r}")
                world._check_links(item, where)
                if isinstance(item, Website):
                    item.discovery_only = name == "discoverable_websites"
                elif isinstance(item, Organisation) and item.created_at is None:
                    item.created_at = EPOCH + timedelta(minutes=index)
                table[getattr(item, id_field)] = item
        world._complete_merchants()
        return world

    def _complete_merchants(self) -> None:
        """Every merchant an organisation lists gets details (the defaults without an entry), in the
        organisations' order."""
        given, self.merchants = self.merchants, {}
        listed = [(org.id, merchant_id) for org in self.organisations.values() for merchant_id in org.merchant_ids]
        for position, (organisation_id, merchant_id) in enumerate(listed):
            merchant = given.get(merchant_id) or Merchant(merchant_id, organisation_id)
            merchant.created_at = merchant.created_at or EPOCH + timedelta(minutes=position)
            self.merchants[merchant_id] = merchant

    def _check_links(self, item: object, where: str) -> None:
        if isinstance(item, Token):
            _known(item.websites, self.websites, f"{where}.websites")
            _known(item.discoverable_websites, self.websites, f"{where}.discoverable_websites")
            _known(item.roles, dict.fromkeys(item.reachable()), f"{where}.roles (not in its allowlist)")
        elif isinstance(item, Organisation):
            owned = {m for org in self.organisations.values() for m in org.merchant_ids}
            if owned & set(item.merchant_ids) or len(set(item.merchant_ids)) < len(item.merchant_ids):
                raise ScenarioError(f"{where}.merchant_ids: duplicate id {sorted(owned & set(item.merchant_ids))}")
            modes = {org.mode for org in self.organisations.values() if org.partner_id == item.partner_id}
            if item.partner_id is not None and modes - {item.mode}:
                raise ScenarioError(f"{where}.mode: one partner's organisations are all of one mode ({modes.pop()})")
        elif isinstance(item, Merchant):
            _known([item.organisation_id], self.organisations, f"{where}.organisation_id")
            if item.id not in self.organisations[item.organisation_id].merchant_ids:
                raise ScenarioError(f"{where}.id: {item.organisation_id} does not list {item.id!r} in merchant_ids")
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
            scenario[upstream][name] = [_plain(item) for item in getattr(self, TABLES.get(name, name)).values()]
        datafast = scenario["datafast"]
        for name, discovery_only in (("websites", False), ("discoverable_websites", True)):
            datafast[name] = [site for site in datafast[name] if site.pop("discovery_only") is discovery_only]
        return scenario

    def visible_organisations(self, key: Key) -> list[Organisation]:
        return [org for org in self.organisations.values() if key.can_see(org)]

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
    names = {f.name for f in dataclasses.fields(kind)} - {"discovery_only"}
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


def _time(value: Any, name: str) -> datetime | None:
    """An aware datetime from a datetime or an ISO 8601 string (UTC when it names no zone)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name}: {value!r} is not ISO 8601") from None
    if value is not None and not isinstance(value, datetime):
        raise ValueError(f"{name}: must be an ISO 8601 string")
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


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
