"""Query plans of every query the pages and the poller make, on the bench's database: which ones
read a whole large table or sort it, instead of using an index."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from integrations_app.alerts.batching import batch_pending
from integrations_app.alerts.delivery import due_alerts
from integrations_app.models import ChargebackStopKey, DataFastSite
from integrations_app.polling.dispatch import claim_due, run_poll

LARGE = 1000  # rows: a scan of a table this big, per request or per poll, is worth an index
EXPLAINABLE = ("SELECT", "UPDATE", "DELETE", "WITH")


@dataclass(frozen=True)
class Finding:
    where: str
    table: str
    rows: int
    detail: str
    sql: str


def capture(action: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        action()
    return [query["sql"] for query in captured.captured_queries]


def poller_queries() -> dict[str, list[str]]:
    site = DataFastSite.objects.order_by("pk").first()
    key = ChargebackStopKey.objects.order_by("pk").first()

    def dispatch_and_alerts() -> None:
        with transaction.atomic():
            claim_due()
            batch_pending(timezone.now())
            due_alerts(timezone.now())
            transaction.set_rollback(True)  # look, do not touch

    return {
        "poll a website": capture(lambda: run_poll("site", site.pk, dispatched_at=timezone.now())) if site else [],
        "poll a key": capture(lambda: run_poll("key", key.pk, dispatched_at=timezone.now())) if key else [],
        "dispatch, alerts": capture(dispatch_and_alerts),
    }


def page_queries(client: Client, urls: dict[str, str]) -> dict[str, list[str]]:
    return {name: capture(partial(client.get, url)) for name, url in urls.items()}


def _normalise(sql: str) -> str:
    return re.sub(r"'[^']*'|\b\d+\b", "?", sql)


def table_rows() -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a table name)
            counts[table] = cursor.fetchone()[0]
    return counts


def _plan(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql)
            return [row[-1] for row in cursor.fetchall()]
        cursor.execute("EXPLAIN " + sql)
        return [row[0] for row in cursor.fetchall()]


def _findings_in(plan: list[str], rows: dict[str, int]) -> list[tuple[str, str]]:
    """Full scans of large tables (a sort is worth a mention only on top of one: sorting the
    handful of rows an index found is cheap)."""
    scans = []
    for line in plan:
        if connection.vendor == "sqlite":
            scan = re.match(r"\s*SCAN (\w+)(?: AS \w+)?(.*)$", line)
            if scan and "INDEX" not in scan.group(2):
                scans.append(scan.group(1))
        else:
            scan = re.search(r"Seq Scan on (\w+)", line)
            if scan:
                scans.append(scan.group(1))
    sorted_too = any("TEMP B-TREE FOR ORDER BY" in line or line.lstrip(" ->").startswith("Sort") for line in plan)
    detail = "full scan and sort" if sorted_too else "full scan"
    return [(table, detail) for table in scans if rows.get(table, 0) >= LARGE]


def check(queries: dict[str, list[str]]) -> tuple[int, list[Finding]]:
    """Plans of every distinct query; findings are scans of tables with LARGE rows or more."""
    rows = table_rows()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seen: set[str] = set()
    findings = []
    for where, statements in queries.items():
        for sql in statements:
            key = _normalise(sql)
            if key in seen or not sql.lstrip().upper().startswith(EXPLAINABLE):
                continue
            seen.add(key)
            for table, detail in _findings_in(_plan(sql), rows):
                findings.append(Finding(where, table, rows.get(table, 0), detail, sql))
    return len(seen), findings


def render(findings: list[Finding]) -> list[str]:
    lines = []
    for finding in findings:
        sql = re.sub(r'"integrations_app_(\w+)"\."(\w+)"', r"\2", finding.sql)  # shorter, still readable
        sql = sql if len(sql) <= 300 else sql[:300] + " …"
        lines.append(f"{finding.where}: {finding.detail} of {finding.table} ({finding.rows} rows): `{sql}`")
    return lines
