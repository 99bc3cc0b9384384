"""`SandboxState`: the simulated upstream data, thread-safe, plus the knobs tests and the demo turn.

Every read and write of the data happens under one lock (the API handlers hold it through
`locked()` for a whole request, so a create checks and inserts atomically). Nothing slow is ever
done under it: latency and trickling happen outside.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from integrations_app.sandbox import scenarios
from integrations_app.sandbox.faults import FaultRules
from integrations_app.sandbox.loader import build_world, connections
from integrations_app.sandbox.stats import RequestStats
from integrations_app.sandbox.world import (
    CURRENCY,
    OBJECT_ID,
    PROVIDERS,
    STATUSES,
    ApiKey,
    DataFastToken,
    Integration,
    Website,
    World,
)

DEFAULT_MAX_PAGE_SIZE = 100


class SandboxState:
    def __init__(self, scenario: str | Mapping[str, Any] = "demo") -> None:
        self._lock = threading.RLock()
        self._world = World()
        self._latency = 0.0
        self._max_page_size = DEFAULT_MAX_PAGE_SIZE
        self.scenario_name = ""
        self.faults = FaultRules()
        self.request_stats = RequestStats()
        self.reset(scenario)

    # --- whole-state operations --------------------------------------------------------------

    def reset(self, scenario: str | Mapping[str, Any]) -> None:
        """Load a named scenario ("demo", "docs", "empty") or a scenario dict; clear faults,
        latency and stats, and restore the default page size."""
        world = build_world(scenarios.resolve(scenario))  # outside the lock: big scenarios take a while
        with self._lock:
            self._world = world
            self.scenario_name = scenario if isinstance(scenario, str) else "custom"
            self._latency = 0.0
            self._max_page_size = DEFAULT_MAX_PAGE_SIZE
            self.faults.clear()
            self.request_stats.reset()

    @contextmanager
    def locked(self) -> Iterator[World]:
        """The data, for the time of one request. Keep the block short and free of I/O."""
        with self._lock:
            yield self._world

    @property
    def latency(self) -> float:
        """Seconds added to every API request (not to control requests)."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must be >= 0 seconds")
        with self._lock:
            self._latency = float(seconds)

    @property
    def max_page_size(self) -> int:
        """At most this many ChargebackStop items per page, whatever `limit` asks."""
        return self._max_page_size

    @max_page_size.setter
    def max_page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("max_page_size must be >= 1")
        with self._lock:
            self._max_page_size = int(size)

    def stats(self) -> dict[str, dict[str, int]]:
        return self.request_stats.snapshot()

    def reset_stats(self) -> None:
        self.request_stats.reset()

    # --- DataFast ----------------------------------------------------------------------------

    def websites(self) -> list[dict[str, Any]]:
        with self._lock:
            return [website.as_summary() for website in self._world.websites.values()]

    def website(self, website_id: str) -> dict[str, Any]:
        with self._lock:
            return self._website(website_id).as_summary()

    def set_connected(self, website_id: str, provider: str, connected: bool) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; known: {list(PROVIDERS)}")
        with self._lock:
            self._website(website_id).connected[provider] = bool(connected)

    def set_paddle_expiry(self, website_id: str, when: datetime | None) -> None:
        with self._lock:
            self._website(website_id).paddle_key_expires_at = when

    def set_currency(self, website_id: str, code: str) -> None:
        if not CURRENCY.match(code):
            raise ValueError(f"{code!r} is not a three-letter upper-case currency code")
        with self._lock:
            self._website(website_id).currency = code

    def add_website(
        self,
        website_id: str | None = None,
        *,
        name: str | None = None,
        currency: str = "USD",
        connected: Iterable[str] | Mapping[str, bool] = (),
        paddle_key_expires_at: datetime | None = None,
        tokens: Iterable[str] = (),
    ) -> str:
        """Add a website (a new ObjectId unless given) readable by the given tokens; returns its id."""
        website_id = website_id or secrets.token_hex(12)
        if not OBJECT_ID.match(website_id):
            raise ValueError(f"{website_id!r} is not a 24-hex ObjectId")
        if not CURRENCY.match(currency):
            raise ValueError(f"{currency!r} is not a three-letter upper-case currency code")
        website = Website(
            id=website_id,
            name=name or f"Website {website_id}",
            currency=currency,
            connected=connections(connected, "connected"),
            paddle_key_expires_at=paddle_key_expires_at,
        )
        with self._lock:
            if website_id in self._world.websites:
                raise ValueError(f"website {website_id} already exists")
            holders = [self._token(token) for token in tokens]
            self._world.websites[website_id] = website
            for holder in holders:
                holder.website_ids.add(website_id)
        return website_id

    def remove_website(self, website_id: str) -> None:
        with self._lock:
            self._website(website_id)
            del self._world.websites[website_id]
            for token in self._world.tokens.values():
                token.website_ids.discard(website_id)

    def revoke_token(self, token: str) -> None:
        with self._lock:
            self._token(token).revoked = True

    def set_token_scopes(self, token: str, scopes: Iterable[str]) -> None:
        with self._lock:
            self._token(token).scopes = set(scopes)

    # --- ChargebackStop ----------------------------------------------------------------------

    def organisations(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                {"id": o.id, "label": o.label, "partner_id": o.partner_id, "merchant_ids": list(o.merchant_ids)}
                for o in self._world.organisations.values()
            ]

    def integrations(self, organisation_id: str | None = None) -> list[dict[str, Any]]:
        """Every integration (or one organisation's), in creation order, as the API shows them."""
        with self._lock:
            return [
                item.as_payload()
                for item in self._world.integrations.values()
                if organisation_id is None or item.organisation_id == organisation_id
            ]

    def integration(self, integration_id: str) -> dict[str, Any]:
        with self._lock:
            return self._integration(integration_id).as_payload()

    def set_integration_status(self, integration_id: str, status: str) -> None:
        """A change made outside the dashboard (in ChargebackStop's own UI): may re-enable."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}")
        with self._lock:
            self._integration(integration_id).status = status

    def rename_integration(self, integration_id: str, name: str) -> None:
        with self._lock:
            self._integration(integration_id).name = name

    def delete_integration(self, integration_id: str) -> None:
        with self._lock:
            self._integration(integration_id)
            del self._world.integrations[integration_id]

    def add_integration(
        self,
        organisation_id: str,
        name: str,
        type: str = "CUSTOM_ORDERS",
        status: str = "ENABLED",
        merchant_ids: Iterable[str] = (),
        *,
        integration_id: str | None = None,
    ) -> str:
        """Add an integration as if created elsewhere; returns its id. No API-side validation."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}")
        with self._lock:
            if organisation_id not in self._world.organisations:
                raise KeyError(f"unknown organisation {organisation_id!r}")
            integration_id = integration_id or self.new_integration_id()
            if integration_id in self._world.integrations:
                raise ValueError(f"integration {integration_id} already exists")
            self._world.integrations[integration_id] = Integration(
                id=integration_id,
                organisation_id=organisation_id,
                name=name,
                type=type,
                status=status,
                merchant_ids=list(merchant_ids),
            )
        return integration_id

    def new_integration_id(self) -> str:
        with self._lock:
            while (candidate := f"int_{secrets.token_hex(8)}") in self._world.integrations:
                pass  # 64 random bits: a clash is astronomically rare, but costs nothing to rule out
            return candidate

    def revoke_key(self, key: str) -> None:
        with self._lock:
            self._key(key).revoked = True

    def set_key_abilities(self, key: str, abilities: Iterable[str]) -> None:
        with self._lock:
            self._key(key).abilities = set(abilities)

    # --- lookups (callers hold the lock) -----------------------------------------------------

    def _website(self, website_id: str) -> Website:
        try:
            return self._world.websites[website_id]
        except KeyError:
            raise KeyError(f"unknown website {website_id!r}") from None

    def _token(self, token: str) -> DataFastToken:
        try:
            return self._world.tokens[token]
        except KeyError:
            raise KeyError("unknown DataFast token") from None  # never echo a credential

    def _integration(self, integration_id: str) -> Integration:
        try:
            return self._world.integrations[integration_id]
        except KeyError:
            raise KeyError(f"unknown integration {integration_id!r}") from None

    def _key(self, key: str) -> ApiKey:
        try:
            return self._world.keys[key]
        except KeyError:
            raise KeyError("unknown ChargebackStop key") from None
