"""The bench's scale and knobs, from the command line."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field

from scripts.run import default_worker_processes


@dataclass(frozen=True)
class Scale:
    sites: int = 5000
    tokens: int = 20
    organisations: int = 200
    integrations: int = 1000
    partner_keys: int = 5
    latency: float = 0.1
    # As `make run` starts them: POLL_CONCURRENCY polls in flight in all, split over
    # WORKER_PROCESSES worker processes (by default one per core, at most 8).
    concurrency: int = field(default_factory=lambda: int(os.environ.get("POLL_CONCURRENCY", "32")))
    workers: int = field(default_factory=lambda: int(os.environ.get("WORKER_PROCESSES") or default_worker_processes()))
    sequential_sample: int = 50
    page_requests: int = 200
    small_sites: int = 500
    interval: int = 60
    detection_trials: int = 2
    retention_sites: int = 5000
    retention_days: int = 7
    seed: int = 5
    # `--scale N` (issue 15): the cycle is also judged against a production interval (0: not a scale run).
    production_interval: int = 0

    def scenario_args(self) -> dict[str, int]:
        return {
            "websites": self.sites,
            "tokens": self.tokens,
            "organisations": self.organisations,
            "integrations": self.integrations,
            "partner_keys": self.partner_keys,
            "seed": self.seed,
        }

    @property
    def scale_run(self) -> bool:
        return self.production_interval > 0

    @property
    def threads(self) -> int:
        """Threads per worker process (`--concurrency` on its command line)."""
        return max(1, self.concurrency // self.workers)


QUICK = {
    "sites": 500,
    "tokens": 5,
    "organisations": 40,
    "integrations": 200,
    "sequential_sample": 20,
    "page_requests": 30,
    "small_sites": 100,
    "interval": 30,
    "detection_trials": 1,
    "retention_sites": 500,
}

PHASES = ("cycle", "detection", "pages", "plans", "retention")
SCALE_PHASES = ("cycle", "pages")  # what the scale targets ask about
SCALE_CONCURRENCY = 64


def overrides(pairs: list[str]) -> dict[str, object]:
    """`NAME=JSON` pairs (a bare word that is not JSON is taken as a string)."""
    values: dict[str, object] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        try:
            values[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            values[name.strip()] = raw
    return values


def parse(argv: list[str] | None = None) -> tuple[Scale, argparse.Namespace]:
    parser = argparse.ArgumentParser(description="Paystatus benchmark (issue 5). Writes bench/results/latest.md.")
    parser.add_argument("--quick", action="store_true", help="a small trial run (500 sites, fewer requests)")
    parser.add_argument("--sites", type=int, help="DataFast websites (default 5000)")
    parser.add_argument(
        "--scale",
        type=int,
        metavar="N",
        help=f"the scale run: N websites (250 a token), {SCALE_CONCURRENCY} in flight unless --concurrency, "
        f"the cycle against a 5-minute interval; phases {', '.join(SCALE_PHASES)} unless --only",
    )
    parser.add_argument("--concurrency", type=int, help="polls in flight in all (default $POLL_CONCURRENCY or 32)")
    parser.add_argument("--workers", type=int, help="worker processes sharing them (default: cores, at most 4)")
    parser.add_argument("--page-requests", type=int, help="timed requests per page (default 200)")
    parser.add_argument("--interval", type=int, help="poll interval for the detection test (default 60 s)")
    parser.add_argument("--trials", type=int, help="detection trials (default 2)")
    parser.add_argument("--only", action="append", choices=PHASES, help="run only these phases (repeatable)")
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database instead of SQLite (retention stays on SQLite)"
    )
    parser.add_argument("--postgres", action="store_true", help="start a throwaway PostgreSQL cluster and use it")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=JSON", help="override a setting in every bench process"
    )
    parser.add_argument("--output", help="where to write the table (default bench/results/latest.md)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, databases)")
    args = parser.parse_args(argv)
    values = dict(QUICK) if args.quick else {}
    chosen = {
        "sites": args.sites,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "page_requests": args.page_requests,
        "interval": args.interval,
        "detection_trials": args.trials,
    }
    if args.scale is not None:
        values |= {"sites": args.scale, "tokens": max(20, args.scale // 250), "production_interval": 300}
        values |= {"concurrency": SCALE_CONCURRENCY, "page_requests": 100, "sequential_sample": 20}
    values |= {name: value for name, value in chosen.items() if value is not None}
    if args.sites is not None:
        values["retention_sites"] = args.sites
    if values.get("interval", 60) < 30:
        parser.error("--interval must be at least 30 (POLL_INTERVAL_SECONDS's minimum)")
    return Scale(**values), args
