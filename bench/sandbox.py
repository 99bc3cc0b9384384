"""The sandbox's control API (`/_sandbox/`, see sandbox/control.py)."""

from __future__ import annotations

from typing import Any

import requests


class SandboxControl:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/_sandbox"
        self.session = requests.Session()
        self.session.trust_env = False

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.session.post(f"{self.url}/{path}", json=body or {}, timeout=120)
        response.raise_for_status()
        return response.json()

    def reset_generated(self, scenario_args: dict[str, int]) -> None:
        """Load a generated scenario (this also clears latency, faults and stats)."""
        self._post("reset", {"generated": scenario_args})

    def set_latency(self, seconds: float) -> None:
        self._post("latency", {"seconds": seconds})

    def stats(self) -> dict[str, dict[str, int]]:
        response = self.session.get(f"{self.url}/stats", timeout=10)
        response.raise_for_status()
        stats: dict[str, dict[str, int]] = response.json()
        return stats

    def reset_stats(self) -> None:
        self._post("stats/reset")

    def set_connected(self, website_id: str, provider: str, connected: bool) -> None:
        self._post(f"datafast/websites/{website_id}", {"provider": provider, "connected": connected})
