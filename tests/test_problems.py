"""One truth for "is anything broken": every combination of stored facts shows the same words in
the overview row, the page header, the card that counts it, and `/api/status.json`."""

from __future__ import annotations

import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app import problems
from integrations_app.models import (
    ChargebackStopKey,
    DataFastSite,
    Health,
    Integration,
    KeyOrganisation,
    Organisation,
    ProviderState,
)
from integrations_app.problems import PADDLE_WARNING, Problem
from integrations_app.scoping import EVERYTHING, Scope
from integrations_app.views.summary import summary
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=5)
HEALTHY: dict[str, Any] = {
    "health": Health.OK,
    "last_success_at": NOW - timedelta(minutes=1),
    "stale_after": NOW + 2 * INTERVAL,
}
STALE = {"health": Health.OK, "last_success_at": NOW - timedelta(minutes=11), "stale_after": NOW - timedelta(minutes=1)}
PADDLE_EXPIRED = {"paddle_expiry_state": "expired", "paddle_key_expires_at": NOW - timedelta(days=3, hours=1)}
# Stored as "ok" at the last poll: the key has passed its expiry since, and the pages must say so.
PADDLE_EXPIRED_SINCE_POLL = {"paddle_expiry_state": "ok", "paddle_key_expires_at": NOW - timedelta(hours=2)}
PADDLE_EXPIRING = {"paddle_expiry_state": "expiring", "paddle_key_expires_at": NOW + timedelta(days=4, hours=1)}
LEMON_OFF = {"lemonsqueezy": {"connected": False, "alert_open": True}}

# (facts on the website, provider states, expected problem, expected words)
SITES: list[tuple[dict[str, Any], dict[str, dict[str, Any]], Problem, str]] = [
    ({**HEALTHY}, {}, Problem.OK, "OK"),
    ({"health": Health.PENDING}, {}, Problem.PENDING, "Not polled yet"),
    ({**HEALTHY, "enabled": False}, {}, Problem.PAUSED, "Paused"),
    ({**STALE, "enabled": False}, {}, Problem.PAUSED, "Paused"),
    ({**HEALTHY, "health": Health.CREDENTIAL_REJECTED}, {}, Problem.CREDENTIAL_REJECTED, "Credential rejected"),
    ({**HEALTHY, "health": Health.NOT_FOUND}, {}, Problem.NOT_FOUND, "Website not found"),
    ({**HEALTHY, "has_disconnect": True}, LEMON_OFF, Problem.DISCONNECTED, "Lemon Squeezy disconnected"),
    (
        {**HEALTHY, "has_disconnect": True},
        {**LEMON_OFF, "stripe": {"connected": False, "flapping_since": NOW}},
        Problem.DISCONNECTED,
        "Stripe and Lemon Squeezy disconnected",
    ),
    ({**HEALTHY, **PADDLE_EXPIRED}, {}, Problem.PADDLE_EXPIRED, "Paddle key expired 3 days ago"),
    ({**HEALTHY, **PADDLE_EXPIRED_SINCE_POLL}, {}, Problem.PADDLE_EXPIRED, "Paddle key expired 2 h 0 min ago"),
    ({**HEALTHY, "health": Health.FAILING}, {}, Problem.FAILING, "Failing to poll"),
    ({**STALE}, {}, Problem.STALE, "Stale: last good poll 11 min ago"),
    ({**HEALTHY, **PADDLE_EXPIRING}, {}, Problem.PADDLE_EXPIRING, "Paddle key expires in 4 days"),
    # Precedence: the first in the documented order wins.
    (
        {**HEALTHY, "health": Health.CREDENTIAL_REJECTED, "has_disconnect": True},
        LEMON_OFF,
        Problem.CREDENTIAL_REJECTED,
        "Credential rejected",
    ),
    (
        {**HEALTHY, "has_disconnect": True, **PADDLE_EXPIRED},
        LEMON_OFF,
        Problem.DISCONNECTED,
        "Lemon Squeezy disconnected",
    ),
    ({**STALE, **PADDLE_EXPIRED}, {}, Problem.PADDLE_EXPIRED, "Paddle key expired 3 days ago"),
    ({**HEALTHY, "health": Health.FAILING, **PADDLE_EXPIRING}, {}, Problem.FAILING, "Failing to poll"),
    ({**STALE, **PADDLE_EXPIRING}, {}, Problem.STALE, "Stale: last good poll 11 min ago"),
    # A provider that was never connected is not a disconnect.
    ({**HEALTHY}, {"polar": {"connected": False}}, Problem.OK, "OK"),
]


def make_site(number: int, facts: dict[str, Any], providers: dict[str, dict[str, Any]]) -> DataFastSite:
    site = factories.site(website_id=f"{number:024x}", name=f"Site {number:02}", **facts)
    ProviderState.objects.bulk_create(
        ProviderState(site=site, provider=provider, **{"connected": True, **providers.get(provider, {})})
        for provider in ("stripe", "lemonsqueezy", "polar", "paddle", "shopify", "woocommerce")
    )
    return site


def badge_text(html: str, marker: str) -> str:
    """The words of the problem badge after `marker` (a row's link, or the header's id)."""
    start = html.index(marker)
    match = re.search(r'data-problem="([a-z_]+)"><span aria-hidden="true">[^<]*</span> ([^<]*)</span>', html[start:])
    assert match, f"no problem badge after {marker}"
    return unescape(match.group(2))


@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(("facts", "providers", "expected", "words"), SITES)
def test_a_website_shows_the_same_problem_in_row_header_card_and_json(staff_client, facts, providers, expected, words):
    site = make_site(1, facts, providers)
    assert problems.problem_of(DataFastSite.objects.get()) == expected

    overview = staff_client.get(reverse("overview")).content.decode()
    assert badge_text(overview, f'href="{site.get_absolute_url()}"') == words
    card = re.search(
        rf'data-count="{expected.value}">(\d+)</div><div><span aria-hidden="true">[^<]*</span> ([^<]*) ', overview
    )
    assert card and card.group(1) == "1" and unescape(card.group(2)) == expected.label

    page = staff_client.get(reverse("site-detail", args=[site.pk])).content.decode()
    assert badge_text(page, 'id="source-status"') == words

    body = json.loads(staff_client.get(reverse("status-json")).content)
    assert body["sites_by_problem"][expected.value] == 1
    listed = [item for item in body["problems"] if item["kind"] == "website"]
    shown = [(item["name"], item["problem"], item["words"]) for item in listed]
    assert shown == ([(site.name, expected.value, words)] if problems.is_problem(expected) else [])
    assert all(item["url"].endswith(site.get_absolute_url()) for item in listed)


@time_machine.travel(NOW, tick=False)
def test_the_cards_add_up_to_the_total_and_problems_sort_first(staff_client):
    for number, (facts, providers, _, _) in enumerate(SITES):
        make_site(number, facts, providers)
    counted = summary()
    assert sum(card.count for card in counted.site_cards) == counted.sites == len(SITES)
    rows = staff_client.get(reverse("overview")).context["rows"]
    ranks = [problems.RANK[problems.problem_of(site)] for site, _ in rows]
    assert ranks == sorted(ranks)
    assert problems.problem_of(rows[0][0]) == Problem.CREDENTIAL_REJECTED
    assert problems.problem_of(rows[-1][0]) == Problem.OK


@time_machine.travel(NOW, tick=False)
def test_the_problem_filter_shows_exactly_the_websites_the_card_counts(staff_client):
    for number, (facts, providers, _, _) in enumerate(SITES):
        make_site(number, facts, providers)
    counted = summary().sites_by_problem
    for problem in Problem:
        rows = staff_client.get(reverse("overview") + f"?problem={problem.value}").context["rows"]
        assert len(rows) == counted[problem.value], problem
        assert {problems.problem_of(site) for site, _ in rows} <= {problem}


@time_machine.travel(NOW, tick=False)
def test_keys_and_organisations_show_their_problems(staff_client):
    rejected = factories.key(name="Rejected", **{**HEALTHY, "health": Health.CREDENTIAL_REJECTED})
    working = factories.key(name="Working", **HEALTHY)
    paused = factories.key(name="Paused", enabled=False, **HEALTHY)
    lost = Organisation.objects.create(organisation_id="org_lost", label="Lost one")
    unwatched = Organisation.objects.create(organisation_id="org_unwatched", label="Unwatched")
    fine = Organisation.objects.create(organisation_id="org_fine", label="Fine")
    KeyOrganisation.objects.create(key=working, organisation=lost)
    KeyOrganisation.objects.create(key=working, organisation=fine)
    KeyOrganisation.objects.create(key=rejected, organisation=fine)  # another key still reads it
    KeyOrganisation.objects.create(key=rejected, organisation=unwatched)
    Integration.objects.create(
        integration_id="int_lost",
        organisation=lost,
        seen_by=working,
        name="Orders",
        type="CUSTOM_ORDERS",
        status="DISABLED",
        alert_open=True,
    )
    Integration.objects.create(  # disabled in the dashboard: a notice, not an open problem
        integration_id="int_quiet",
        organisation=fine,
        seen_by=working,
        name="Old",
        type="CUSTOM_ORDERS",
        status="DISABLED",
        alert_open=False,
    )
    for key in (rejected, working, paused):
        key.save()  # as a poll ends: the key and the organisations it reaches store their problems
    expected_keys = {
        rejected: (Problem.CREDENTIAL_REJECTED, "Credential rejected"),
        working: (Problem.INTEGRATION_LOST, "Integration disabled or gone"),
        paused: (Problem.PAUSED, "Paused"),
    }
    for key, (problem, words) in expected_keys.items():
        row = ChargebackStopKey.objects.get(pk=key.pk)
        assert problems.problem_of(row) == problem
        page = staff_client.get(reverse("key-detail", args=[key.pk])).content.decode()
        assert badge_text(page, 'id="source-status"') == words
    expected_organisations = {
        lost: (Problem.INTEGRATION_LOST, "Integration disabled or gone"),
        unwatched: (Problem.STALE, "Stale"),
        fine: (Problem.OK, "OK"),
    }
    overview = staff_client.get(reverse("overview")).content.decode()
    for organisation, (problem, words) in expected_organisations.items():
        assert problems.problem_of(Organisation.objects.get(pk=organisation.pk)) == problem
        page = staff_client.get(reverse("organisation-detail", args=[organisation.pk])).content.decode()
        assert badge_text(page, 'id="source-status"') == words
        assert badge_text(overview, f'href="{organisation.get_absolute_url()}"') == words
    body = json.loads(staff_client.get(reverse("status-json")).content)
    assert body["keys_by_problem"]["credential_rejected"] == 1
    assert body["organisations_by_problem"]["integration_lost"] == 1
    listed = {(item["kind"], item["name"]): item["words"] for item in body["problems"]}
    assert listed == {
        ("key", "Rejected"): "Credential rejected",
        ("key", "Working"): "Integration disabled or gone",
        ("organisation", "Lost one"): "Integration disabled or gone",
        ("organisation", "Unwatched"): "Stale",
    }


def test_the_paddle_state_of_a_stored_site_agrees_with_the_sql_rules():
    """`site_paddle_state` (the Paddle cell) and the PADDLE_* rules (the status) say the same."""
    now = timezone.now()
    expiries = [None, now - timedelta(days=1), now + timedelta(days=3), now + timedelta(days=40)]
    for number, (expires, stored) in enumerate(itertools.product(expiries, ("none", "ok", "expiring", "expired"))):
        site = factories.site(
            website_id=f"{number:024x}",
            name=f"Paddle {number}",
            paddle_expiry_state=stored,
            paddle_key_expires_at=expires,
            **{**HEALTHY, "last_success_at": now, "stale_after": now + INTERVAL},
        )
        row = DataFastSite.objects.get(pk=site.pk)
        state = problems.site_paddle_state(row, now)
        expected = {"expired": Problem.PADDLE_EXPIRED, "expiring": Problem.PADDLE_EXPIRING}.get(state, Problem.OK)
        assert problems.problem_of(row) == expected, (expires, stored)


def test_the_clock_overtaking_a_fact_is_stored_by_the_next_tick(settings):
    """Stored problems follow time too: a source going stale, a Paddle key reaching its warning and
    its expiry, and an organisation whose only key went stale."""
    start = NOW
    with time_machine.travel(start, tick=False):
        site = factories.site(
            **HEALTHY,
            paddle_expiry_state="ok",
            paddle_key_expires_at=start + PADDLE_WARNING + timedelta(hours=1),
        )
        key = factories.key(**HEALTHY)
        organisation = Organisation.objects.create(organisation_id="org_one")
        KeyOrganisation.objects.create(key=key, organisation=organisation)
        assert problems.refresh_due() == 0
    assert (site.problem_recheck_at, key.problem_recheck_at) == (HEALTHY["stale_after"], HEALTHY["stale_after"])

    def stored() -> tuple[Problem, Problem, Problem]:
        return (
            problems.problem_of(DataFastSite.objects.get(pk=site.pk)),
            problems.problem_of(ChargebackStopKey.objects.get(pk=key.pk)),
            problems.problem_of(Organisation.objects.get(pk=organisation.pk)),
        )

    assert stored() == (Problem.OK, Problem.OK, Problem.OK)
    with time_machine.travel(HEALTHY["stale_after"] + timedelta(seconds=1), tick=False):
        assert problems.refresh_due() == 2
        assert stored() == (Problem.STALE, Problem.STALE, Problem.STALE)
    DataFastSite.objects.filter(pk=site.pk).update(stale_after=start + timedelta(days=30))
    DataFastSite.objects.filter(pk=site.pk).update(problem_recheck_at=start)  # as a save would set it
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        problems.refresh_due()
        assert problems.problem_of(DataFastSite.objects.get(pk=site.pk)) == Problem.PADDLE_EXPIRING
    with time_machine.travel(start + PADDLE_WARNING + timedelta(hours=2), tick=False):
        problems.refresh_due()
        assert problems.problem_of(DataFastSite.objects.get(pk=site.pk)) == Problem.PADDLE_EXPIRED


def test_beats_dispatch_tick_refreshes_the_problems(redis_clean, settings):
    from integrations_app.tasks import dispatch_due_polls

    with time_machine.travel(NOW, tick=False):
        site = factories.site(**HEALTHY, enabled=True)
    DataFastSite.objects.filter(pk=site.pk).update(next_poll_at=NOW + timedelta(days=1))  # nothing to poll
    with time_machine.travel(HEALTHY["stale_after"] + timedelta(seconds=1), tick=False):
        dispatch_due_polls()
    assert problems.problem_of(DataFastSite.objects.get(pk=site.pk)) == Problem.STALE


def test_the_counts_give_every_problem_its_rows_and_zeros_for_the_others():
    """`counts` groups the rows not OK and takes OK as the rest of the total: every rank must come
    out as a plain GROUP BY counts it, an empty table and a filtered one too."""
    assert problems.counts(DataFastSite.objects.all()) == {problem.value: 0 for problem in problems.ORDER}
    sites = [factories.site(website_id=f"w{index}", name=f"Site {index}") for index in range(14)]
    ranks = [problems.RANK[problem] for problem in problems.ORDER]
    for site, rank in zip(sites, [*ranks, problems.RANK[Problem.OK], problems.RANK[Problem.STALE], 0], strict=True):
        DataFastSite.objects.filter(pk=site.pk).update(problem_rank=rank)
    assert problems.counts(DataFastSite.objects.none()) == {problem.value: 0 for problem in problems.ORDER}
    for queryset in (DataFastSite.objects.all(), DataFastSite.objects.filter(name__endswith="1")):
        expected = {problem.value: 0 for problem in problems.ORDER}
        for rank in queryset.values_list("problem_rank", flat=True):
            expected[problems.ORDER[rank].value] += 1
        assert problems.counts(queryset) == expected


def test_counting_refuses_a_distinct_queryset():
    """A DISTINCT would collapse the rows counted: no count, rather than a wrong one."""
    with pytest.raises(AssertionError, match="DISTINCT"):
        problems.counts(DataFastSite.objects.distinct())
    with pytest.raises(AssertionError, match="DISTINCT"):
        problems.column_sql(Integration.objects.distinct(), "status")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the plan is SQLite's")
@pytest.mark.parametrize(
    "count", [lambda: problems.counts(DataFastSite.objects.all()), summary], ids=["counts", "summary"]
)
def test_the_counts_read_only_the_rows_with_a_problem_through_the_index(count):
    """Most websites are OK: grouping them all read every row of site_problem_idx on each overview
    (5 ms at 50,000). The grouped part must be a range of the index, the rest a plain count, in
    `counts` and in the summary's one statement that joins it to the others."""
    factories.site()
    with CaptureQueriesContext(connection) as captured:
        count()
    (counting,) = [query["sql"] for query in captured]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {counting}")
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "USING COVERING INDEX site_problem_idx (problem_rank<?)" in plan, plan


def test_the_summary_is_one_query_giving_what_each_count_gives_in_every_scope():
    """`summary` joins the counts of websites, keys and organisations and the integrations by status
    in one statement: each number as its own query gives it, for everything, for a member (whose
    scope has no key: that part is left out), and none at all for a member of no project."""
    project, other = factories.project("A"), factories.project("B")
    ranks = [problems.RANK[problem] for problem in problems.ORDER]
    for index in range(30):
        site = factories.site(f"w{index}", f"Site {index}", project=(project, other, None)[index % 3])
        DataFastSite.objects.filter(pk=site.pk).update(problem_rank=ranks[index % len(ranks)])
    for index in range(4):
        key = factories.key(name=f"Key {index}")
        ChargebackStopKey.objects.filter(pk=key.pk).update(problem_rank=ranks[index * 3])
    statuses = ["ENABLED", "DISABLED", "GONE"]
    for index in range(9):
        organisation = Organisation.objects.create(
            organisation_id=f"o{index}", project=(project, other, None)[index % 3]
        )
        Organisation.objects.filter(pk=organisation.pk).update(problem_rank=ranks[index])
        for number in range(index % 4):
            Integration.objects.create(
                integration_id=f"i{index}-{number}", organisation=organisation, type="CUSTOM_ORDERS",
                status=statuses[(index + number) % 3],
            )  # fmt: skip
    member = Scope(everything=False, staff_wide=False, projects=frozenset({project.pk}))
    nobody = Scope(everything=False, staff_wide=False)
    for scope, queries in ((EVERYTHING, 1), (member, 1), (nobody, 0)):
        by_status = dict(
            scope.filter(Integration.objects.all()).values_list("status").annotate(n=Count("pk")).order_by()
        )
        expected = {
            "sites_by_problem": problems.counts(scope.filter(DataFastSite.objects.all())),
            "keys_by_problem": problems.counts(scope.filter(ChargebackStopKey.objects.all())),
            "organisations_by_problem": problems.counts(scope.filter(Organisation.objects.all())),
            **{f"integrations_{status.lower()}": by_status.get(status, 0) for status in statuses},
        }
        with CaptureQueriesContext(connection) as captured:
            numbers = summary(scope).as_dict()
        assert len(captured) == queries, scope
        assert {name: numbers[name] for name in expected} == expected, scope
        assert numbers["sites"] == sum(expected["sites_by_problem"].values())
    assert summary().sites == 30 and summary().keys == 4 and summary().integrations_gone == 4
    assert summary(member).sites == 10 and summary(member).keys == 0 and summary(nobody).sites == 0
