"""Request counters per simulated API: total, in flight now, and the peak in flight.

The peak is what a benchmark reads to prove the dashboard never sent one upstream more
concurrent requests than it is configured to.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass

APIS = ("datafast", "chargebackstop")


@dataclass
class _Counter:
    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters = {api: _Counter() for api in APIS}

    def started(self, api: str) -> None:
        with self._lock:
            counter = self._counters[api]
            counter.requests += 1
            counter.in_flight += 1
            counter.peak_in_flight = max(counter.peak_in_flight, counter.in_flight)

    def finished(self, api: str) -> None:
        with self._lock:
            self._counters[api].in_flight -= 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {api: asdict(counter) for api, counter in self._counters.items()}

    def reset(self) -> None:
        """Zero the totals; requests still in flight stay counted, so the peak starts from them."""
        with self._lock:
            for counter in self._counters.values():
                counter.requests = 0
                counter.peak_in_flight = counter.in_flight
