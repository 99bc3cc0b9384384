"""One Markdown table (metric, value, target, pass/fail) with the date, machine and scale."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.config import Scale


@dataclass
class Row:
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None  # None: reported, no target


@dataclass
class Report:
    scale: Scale
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    database: str = ""
    elapsed: float = 0.0
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    query_counts: dict[int, dict[str, int]] = field(default_factory=dict)  # websites → page → queries
    appendix: dict[str, list[str]] = field(default_factory=dict)

    def add(self, metric: str, value: str, target: str = "", ok: bool | None = None) -> None:
        self.rows.append(Row(metric, value, target, ok))
        mark = "" if ok is None else ("  PASS" if ok else "  FAIL")
        print(f"  {metric}: {value}{f'  (target {target})' if target else ''}{mark}", flush=True)

    def note(self, text: str) -> None:
        self.notes.append(text)
        print(f"  note: {text}", flush=True)

    def render(self) -> str:
        scale = self.scale
        lines = [
            "# Paystatus benchmark (`make bench`)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; run took {self.elapsed / 60:.1f} min",
            f"- Machine: {cpu_model()}, {os.cpu_count()} cores, {memory_gb():.0f} GB RAM, "
            f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
            f"- Load average (1, 5, 15 min): {_load(self.load_before)} at the start, {_load(os.getloadavg())} "
            "at the end (other work on the machine slows every timing)",
            f"- Database: {self.database}",
            f"- Scale: {scale.sites} DataFast websites over {scale.tokens} tokens; "
            f"{scale.organisations} ChargebackStop organisations with {scale.integrations} integrations "
            f"behind {scale.partner_keys} partner keys; "
            f"{scale.latency * 1000:.0f} ms injected latency per upstream request; "
            f"POLL_CONCURRENCY {scale.concurrency}: {scale.workers} worker process(es) × {scale.threads} threads, "
            "as `make run` starts them",
            "",
            "| metric | value | target | result |",
            "| --- | --- | --- | --- |",
        ]
        for row in self.rows:
            result = "" if row.ok is None else ("pass" if row.ok else "**FAIL**")
            lines.append(f"| {row.metric} | {row.value} | {row.target} | {result} |")
        if self.notes:
            lines += ["", "Notes:", ""]
            lines += [f"- {note}" for note in self.notes]
        for title, items in self.appendix.items():
            lines += ["", f"## {title}", ""]
            lines += [f"- {item}" for item in items]
        return "\n".join(lines) + "\n"


def _load(values: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in values)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def seconds(value: float) -> str:
    return f"{value:.1f} s"


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def megabytes(value: float) -> str:
    return f"{value / 1024 / 1024:.0f} MB"
