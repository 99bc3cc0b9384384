"""Turn scenario data (plain dicts and lists, see `scenarios.py`) into a `World`, checking it first.

A scenario with a typo must fail loudly at load time, naming the entry, rather than serve data
that quietly disagrees with what its author meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations_app.sandbox.world import (
    ABILITIES,
    CURRENCY,
    NAME_MAX_LENGTH,
    OBJECT_ID,
    ORGANISATION,
    PARTNER,
    PROVIDERS,
    SETTINGS_READ,
    STATUSES,
    ApiKey,
    DataFastToken,
    Integration,
    Organisation,
    Website,
    World,
)


class ScenarioError(ValueError):
    """The scenario data is not valid; the message names the entry and the problem."""


def build_world(scenario: Mapping[str, Any], *, now: datetime | None = None) -> World:
    _check_keys(scenario, "scenario", required=(), optional=("datafast", "chargebackstop"))
    now = now or datetime.now(UTC)
    world = World()
    datafast = scenario.get("datafast", {})
    _check_keys(datafast, "datafast", required=(), optional=("websites", "tokens"))
    for index, entry in enumerate(datafast.get("websites", [])):
        website = _website(entry, f"datafast.websites[{index}]", now)
        _add_unique(world.websites, website.id, website, f"datafast.websites[{index}]")
    for index, entry in enumerate(datafast.get("tokens", [])):
        token = _token(entry, f"datafast.tokens[{index}]", world)
        _add_unique(world.tokens, token.token, token, f"datafast.tokens[{index}]")
    chargebackstop = scenario.get("chargebackstop", {})
    _check_keys(chargebackstop, "chargebackstop", required=(), optional=("organisations", "keys", "integrations"))
    owner_of_merchant: dict[str, str] = {}
    for index, entry in enumerate(chargebackstop.get("organisations", [])):
        where = f"chargebackstop.organisations[{index}]"
        organisation = _organisation(entry, where)
        _add_unique(world.organisations, organisation.id, organisation, where)
        for merchant_id in organisation.merchant_ids:
            _add_unique(owner_of_merchant, merchant_id, organisation.id, f"{where}.merchant_ids")
    for index, entry in enumerate(chargebackstop.get("keys", [])):
        key = _key(entry, f"chargebackstop.keys[{index}]", world)
        _add_unique(world.keys, key.key, key, f"chargebackstop.keys[{index}]")
    for index, entry in enumerate(chargebackstop.get("integrations", [])):
        integration = _integration(entry, f"chargebackstop.integrations[{index}]", world)
        _add_unique(world.integrations, integration.id, integration, f"chargebackstop.integrations[{index}]")
    return world


def _website(entry: Mapping[str, Any], where: str, now: datetime) -> Website:
    _check_keys(
        entry,
        where,
        required=("id", "name"),
        optional=("currency", "connected", "paddle_key_expires_at", "paddle_key_expires_in_days"),
    )
    website_id = _text(entry, "id", where)
    if not OBJECT_ID.match(website_id):
        raise ScenarioError(f"{where}.id: {website_id!r} is not a 24-hex ObjectId")
    currency = entry.get("currency", "USD")
    if not isinstance(currency, str) or not CURRENCY.match(currency):
        raise ScenarioError(f"{where}.currency: {currency!r} is not a three-letter upper-case code")
    return Website(
        id=website_id,
        name=_text(entry, "name", where),
        currency=currency,
        connected=connections(entry.get("connected", []), f"{where}.connected"),
        paddle_key_expires_at=_expiry(entry, where, now),
    )


def connections(value: Any, where: str) -> dict[str, bool]:
    """Every provider, `True` for those listed (a list of names, or a provider → bool mapping)."""
    chosen = dict(value) if isinstance(value, Mapping) else dict.fromkeys(_strings(value, where), True)
    unknown = set(chosen) - set(PROVIDERS)
    if unknown:
        raise ScenarioError(f"{where}: unknown providers {sorted(unknown)}; known: {list(PROVIDERS)}")
    if not all(isinstance(flag, bool) for flag in chosen.values()):
        raise ScenarioError(f"{where}: connection flags must be booleans")
    return {provider: chosen.get(provider, False) for provider in PROVIDERS}


def _expiry(entry: Mapping[str, Any], where: str, now: datetime) -> datetime | None:
    if "paddle_key_expires_in_days" in entry:
        # Relative to load time, so the demo always has a key "expiring in 5 days".
        days = entry["paddle_key_expires_in_days"]
        if not isinstance(days, int | float) or isinstance(days, bool):
            raise ScenarioError(f"{where}.paddle_key_expires_in_days: must be a number")
        return (now + timedelta(days=days)).replace(microsecond=0)
    value = entry.get("paddle_key_expires_at")
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ScenarioError(f"{where}.paddle_key_expires_at: {value!r} is not an ISO 8601 timestamp") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _token(entry: Mapping[str, Any], where: str, world: World) -> DataFastToken:
    _check_keys(entry, where, required=("token", "websites"), optional=("label", "scopes"))
    token = _text(entry, "token", where)
    if not token.startswith("dft_"):
        raise ScenarioError(f"{where}.token: DataFast account tokens start with 'dft_'")
    website_ids = set(_strings(entry["websites"], f"{where}.websites"))
    _known(website_ids, world.websites, f"{where}.websites")
    return DataFastToken(
        token=token,
        label=entry.get("label", ""),
        scopes=set(_strings(entry.get("scopes", [SETTINGS_READ]), f"{where}.scopes")),
        website_ids=website_ids,
    )


def _organisation(entry: Mapping[str, Any], where: str) -> Organisation:
    _check_keys(entry, where, required=("id",), optional=("label", "partner_id", "merchant_ids"))
    return Organisation(
        id=_text(entry, "id", where),
        label=entry.get("label", ""),
        partner_id=entry.get("partner_id"),
        merchant_ids=_strings(entry.get("merchant_ids", []), f"{where}.merchant_ids"),
    )


def _key(entry: Mapping[str, Any], where: str, world: World) -> ApiKey:
    _check_keys(
        entry,
        where,
        required=("key", "level"),
        optional=("label", "organisation_id", "partner_id", "admin", "organisation_ids", "abilities"),
    )
    abilities = set(_strings(entry.get("abilities", ABILITIES), f"{where}.abilities"))
    key = ApiKey(
        key=_text(entry, "key", where), label=entry.get("label", ""), level=entry["level"], abilities=abilities
    )
    if key.level == ORGANISATION:
        key.organisation_id = _text(entry, "organisation_id", where)
        _known([key.organisation_id], world.organisations, f"{where}.organisation_id")
    elif key.level == PARTNER:
        key.partner_id = _text(entry, "partner_id", where)
        key.admin = bool(entry.get("admin", False))
        key.organisation_ids = frozenset(_strings(entry.get("organisation_ids", []), f"{where}.organisation_ids"))
        _known(key.organisation_ids, world.organisations, f"{where}.organisation_ids")
        strangers = [o for o in key.organisation_ids if world.organisations[o].partner_id != key.partner_id]
        if strangers:
            raise ScenarioError(f"{where}.organisation_ids: {strangers} belong to another partner")
    else:
        raise ScenarioError(f"{where}.level: must be {ORGANISATION!r} or {PARTNER!r}")
    return key


def _integration(entry: Mapping[str, Any], where: str, world: World) -> Integration:
    _check_keys(entry, where, required=("id", "organisation_id", "name", "type", "merchant_ids"), optional=("status",))
    organisation_id = _text(entry, "organisation_id", where)
    _known([organisation_id], world.organisations, f"{where}.organisation_id")
    merchant_ids = _strings(entry["merchant_ids"], f"{where}.merchant_ids")
    foreign = set(merchant_ids) - set(world.organisations[organisation_id].merchant_ids)
    if foreign:
        raise ScenarioError(f"{where}.merchant_ids: {sorted(foreign)} are not merchants of {organisation_id}")
    status = entry.get("status", STATUSES[0])
    if status not in STATUSES:
        raise ScenarioError(f"{where}.status: must be one of {list(STATUSES)}")
    name = _text(entry, "name", where)
    if len(name) > NAME_MAX_LENGTH:
        raise ScenarioError(f"{where}.name: longer than {NAME_MAX_LENGTH} characters")
    return Integration(
        id=_text(entry, "id", where),
        organisation_id=organisation_id,
        name=name,
        type=_text(entry, "type", where),
        status=status,
        merchant_ids=merchant_ids,
    )


def _check_keys(entry: Any, where: str, *, required: Iterable[str], optional: Iterable[str]) -> None:
    if not isinstance(entry, Mapping):
        raise ScenarioError(f"{where}: must be a mapping")
    missing = [name for name in required if name not in entry]
    unknown = set(entry) - set(required) - set(optional)
    if missing:
        raise ScenarioError(f"{where}: missing {missing}")
    if unknown:
        raise ScenarioError(f"{where}: unknown keys {sorted(unknown)}")


def _text(entry: Mapping[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value:
        raise ScenarioError(f"{where}.{name}: must be a non-empty string")
    return value


def _strings(value: Any, where: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise ScenarioError(f"{where}: must be a list of strings")
    return list(value)


def _known(ids: Iterable[str], table: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(ids) - set(table))
    if unknown:
        raise ScenarioError(f"{where}: unknown ids {unknown}")


def _add_unique(table: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key in table:
        raise ScenarioError(f"{where}: duplicate id {key!r}")
    table[key] = value
