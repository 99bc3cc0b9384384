"""`SandboxState`: the simulated world, thread-safe, the knobs tests and the demo turn, and its file.

Every read and write of the world happens under one lock (the server holds it for a whole API
request, so a create checks and inserts atomically). Nothing slow is done under it: latency and
trickling happen outside. With a `state_file`, the world is read from it on start (when it
exists) and written to it after every change made over HTTP, so a restarted demo still has the
integrations created in the dashboard; without one (tests), the world lives in memory only.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sandbox.faults import FaultRules
from sandbox.inbox import Inbox
from sandbox.scenarios import SCENARIOS
from sandbox.world import CURRENCY, PROVIDERS, STATUSES, Integration, Key, ScenarioError, Token, Website, World, js_iso

DEFAULT_MAX_PAGE_SIZE = 100
DEFAULT_RATE_LIMIT = 100  # ChargebackStop's documented requests per minute per endpoint and group
RATE_WINDOW = 60.0
APIS = ("datafast", "chargebackstop")


class SandboxState:
    def __init__(self, scenario: str | Mapping[str, Any] = "demo", *, state_file: Path | None = None) -> None:
        self._lock = threading.RLock()
        self.state_file = state_file
        self.faults = FaultRules()
        self.inbox = Inbox()  # chat messages from the dashboard's channels (not saved: a demo's scrollback)
        self.stats_lock = threading.Lock()  # counters change outside the world's lock
        self._save_lock = threading.Lock()
        # Wall-clock time, not monotonic: a test that moves time (time-machine) moves the rate
        # window with it, as it moves the dashboard's own budget.
        self.clock = time.time
        if state_file is not None and state_file.exists():
            try:
                self.reset(json.loads(state_file.read_text()))
            except (ValueError, OSError) as problem:
                raise ScenarioError(f"{state_file}: {problem} (delete it to start from the scenario)") from None
            self.scenario_name = f"saved in {state_file.name}"
        else:
            self.reset(scenario)
        self.save()  # at once, so a file that cannot be written stops the start, not a later request

    def reset(self, scenario: str | Mapping[str, Any]) -> None:
        """Load a named scenario ("demo", "docs", "empty") or a scenario dict; clear faults,
        latency and stats, and restore the default page size."""
        if isinstance(scenario, str) and scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; known: {sorted(SCENARIOS)}")
        data = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
        world = World.from_scenario(data)  # outside the lock: big scenarios take a while
        with self._lock:
            self.world = world
            self.scenario_name = scenario if isinstance(scenario, str) else "custom"
            self._latency, self._max_page_size = 0.0, DEFAULT_MAX_PAGE_SIZE
            self.rate_limit = DEFAULT_RATE_LIMIT
            self._recent: dict[tuple[str, str], deque[float]] = {}
            self.faults.clear()
            self.inbox.clear()
            self.reset_stats()

    def save(self) -> None:
        """Write the world to `state_file` (if any), atomically: a crash mid-write keeps the old file."""
        if self.state_file is None:
            return
        partial = self.state_file.with_name(self.state_file.name + ".tmp")
        with self._save_lock:  # one writer at a time, each writing the world as it is then
            with self._lock:
                text = json.dumps(self.world.as_scenario(), indent=1)
            partial.write_text(text)
            partial.replace(self.state_file)

    @contextmanager
    def locked(self) -> Iterator[World]:
        """The world, for the time of one request. Keep the block short and free of I/O."""
        with self._lock:
            yield self.world

    # --- knobs ---------------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds added to every API request (not to control requests)."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if not 0 <= seconds < float("inf"):
            raise ValueError("latency must be a number of seconds >= 0")
        self._latency = float(seconds)

    @property
    def max_page_size(self) -> int:
        """At most this many ChargebackStop items per page, whatever `limit` asks."""
        return self._max_page_size

    @max_page_size.setter
    def max_page_size(self, size: int) -> None:
        if size < 1:
            raise ValueError("max_page_size must be >= 1")
        self._max_page_size = int(size)

    def count_request(self, endpoint: str, group: str) -> int | None:
        """Count one request of `group` to a rate-limited endpoint (a sliding minute). None when it
        is within `rate_limit`; else it is refused, not counted, and this is the Retry-After: whole
        seconds until the oldest counted request leaves the window."""
        now = self.clock()
        with self._lock:
            recent = self._recent.setdefault((endpoint, group), deque())
            while recent and recent[0] <= now - RATE_WINDOW:
                recent.popleft()
            if len(recent) >= self.rate_limit:
                return max(1, math.ceil(recent[0] + RATE_WINDOW - now))
            recent.append(now)
            return None

    # --- request counters: the peak in flight is what a benchmark reads to prove the dashboard
    # never sent one upstream more concurrent requests than it is configured to ----------------

    def started(self, api: str) -> None:
        with self.stats_lock:
            counter = self._stats[api]
            counter["requests"] += 1
            counter["in_flight"] += 1
            counter["peak_in_flight"] = max(counter["peak_in_flight"], counter["in_flight"])

    def finished(self, api: str) -> None:
        with self.stats_lock:
            self._stats[api]["in_flight"] -= 1

    def stats(self) -> dict[str, dict[str, int]]:
        with self.stats_lock:
            return {api: dict(counter) for api, counter in self._stats.items()}

    def reset_stats(self) -> None:
        """Zero the totals; requests still in flight stay counted, so the peak starts from them."""
        with self.stats_lock:
            old = getattr(self, "_stats", {})
            flying = {api: old.get(api, {}).get("in_flight", 0) for api in APIS}
            self._stats = {api: {"requests": 0, "in_flight": n, "peak_in_flight": n} for api, n in flying.items()}

    # --- the world, changed as the upstream's own UI would. Only what the simulator needs is checked
    # (a known provider, a status, a currency code): a test may serve what the docs rule out ------

    def set_connected(self, website_id: str, provider: str, connected: bool) -> None:
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; known: {list(PROVIDERS)}")
        with self._lock:
            self._find("websites", website_id).connected[provider] = bool(connected)

    def set_paddle_expiry(self, website_id: str, when: datetime | None) -> None:
        self._set("websites", website_id, paddle_key_expires_at=when)

    def set_currency(self, website_id: str, code: str) -> None:
        if not isinstance(code, str) or not CURRENCY.match(code):
            raise ValueError(f"{code!r} is not a three-letter upper-case currency code")
        self._set("websites", website_id, currency=code)

    def revoke_token(self, token: str) -> None:
        self._set("tokens", token, revoked=True)

    def set_token_scopes(self, token: str, scopes: Iterable[str]) -> None:
        self._set("tokens", token, scopes=set(scopes))

    def set_integration_status(self, integration_id: str, status: str) -> None:
        """A change made outside the dashboard (in ChargebackStop's own UI): may re-enable."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}")
        self._set("integrations", integration_id, status=status)

    def rename_integration(self, integration_id: str, name: str) -> None:
        self._set("integrations", integration_id, name=name)

    def revoke_key(self, key: str) -> None:
        self._set("keys", key, revoked=True)

    def set_key_abilities(self, key: str, abilities: Iterable[str]) -> None:
        self._set("keys", key, abilities=set(abilities))

    def _set(self, table: str, ident: str, **fields: Any) -> None:
        with self._lock:
            entry = self._find(table, ident)
            for name, value in fields.items():
                setattr(entry, name, value)

    def add_website(self, website_id: str | None = None, *, tokens: Iterable[str] = (), **fields: Any) -> str:
        """Add a website (a new ObjectId unless given) readable by the given tokens; returns its id.
        `fields` are those of `world.Website` (name, currency, connected, paddle_key_expires_at)."""
        website_id = website_id or secrets.token_hex(12)
        website = Website(id=website_id, **{"name": f"Website {website_id}"} | fields)
        with self._lock:
            if website_id in self.world.websites:
                raise ValueError(f"website {website_id} already exists")
            holders = [self._find("tokens", token) for token in tokens]
            self.world.websites[website_id] = website
            for holder in holders:
                holder.websites.add(website_id)
        return website_id

    def remove_website(self, website_id: str) -> None:
        with self._lock:
            del self.world.websites[self._find("websites", website_id).id]
            for token in self.world.tokens.values():
                token.websites.discard(website_id)

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
        """Add an integration as if created elsewhere; returns its id. Its merchants are not checked
        against the organisation's (the API's create does that)."""
        with self._lock:
            self._find("organisations", organisation_id)
            if integration_id in self.world.integrations:
                raise ValueError(f"integration {integration_id} already exists")
            new_id = integration_id or f"int_{secrets.token_hex(8)}"
            while new_id in self.world.integrations:  # 64 random bits: a clash is astronomically rare, but
                new_id = f"int_{secrets.token_hex(8)}"  # costs nothing to rule out
            self.world.integrations[new_id] = Integration(
                new_id, organisation_id, name, type, list(merchant_ids), status
            )
        return new_id

    def delete_integration(self, integration_id: str) -> None:
        with self._lock:
            del self.world.integrations[self._find("integrations", integration_id).id]

    # --- reading: plain data, copied under the lock ----------------------------------------------

    def websites(self) -> list[dict[str, Any]]:
        with self._lock:
            return [website.as_summary() for website in self.world.websites.values()]

    def website(self, website_id: str) -> dict[str, Any]:
        with self._lock:
            website: Website = self._find("websites", website_id)
            return website.as_summary()

    def organisations(self) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(vars(org), merchant_ids=list(org.merchant_ids), created_at=js_iso(org.created_at))
                for org in self.world.organisations.values()
            ]

    def integrations(self, organisation_id: str | None = None) -> list[dict[str, Any]]:
        """Every integration (or one organisation's), in creation order, as the API shows them."""
        with self._lock:
            return [
                item.as_payload()
                for item in self.world.integrations.values()
                if organisation_id is None or item.organisation_id == organisation_id
            ]

    def integration(self, integration_id: str) -> dict[str, Any]:
        with self._lock:
            integration: Integration = self._find("integrations", integration_id)
            return integration.as_payload()

    def credentials(self) -> tuple[list[Token], list[Key]]:
        """The valid (not revoked) tokens and keys, for people to practise with on the control page."""
        with self._lock:
            valid = [t for t in self.world.tokens.values() if not t.revoked]
            return valid, [k for k in self.world.keys.values() if not k.revoked]

    def _find(self, table: str, ident: str) -> Any:
        """The entry of `World.<table>`; an unknown one is a KeyError that never echoes a credential."""
        try:
            return getattr(self.world, table)[ident]
        except KeyError:
            secret = table in ("tokens", "keys")
            raise KeyError(f"unknown {table[:-1]}" + ("" if secret else f" {ident!r}")) from None
