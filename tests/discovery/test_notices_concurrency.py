"""The kept counts of new websites under concurrent transactions (PostgreSQL: SQLite runs one
writer at a time). Each test runs real transactions on two connections, one per thread, and
orders their steps with events; a wait that times out is how a test sees that a step was blocked."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from integrations_app.datafast import discovery
from integrations_app.datafast.client import Website
from integrations_app.datafast.models import DataFastAccount, DataFastSite
from tests import factories
from tests.concurrency import in_another_connection
from tests.discovery.test_notices import counted_from_scratch, listing_of, shown, website

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writing transaction at a time"),
]
# Long enough for a blocked step to show (PostgreSQL detects a deadlock after one second).
BLOCKED_AFTER = 3.0


def test_an_account_listed_while_another_transaction_watches_websites_is_counted_again_after_it_commits():
    """A website watched in a transaction still open, an account first listed meanwhile: the count
    taken then cannot see the website, and once the transaction commits it is taken again."""
    factories.account(name="Acme")
    watching, commit = threading.Event(), threading.Event()

    def watch_a_website() -> None:
        with transaction.atomic():
            factories.site(website(1), account=DataFastAccount.objects.get(name="Acme"))
            watching.set()
            commit.wait(BLOCKED_AFTER)

    with in_another_connection(watch_a_website) as errors:
        assert watching.wait(BLOCKED_AFTER)
        listing_of(factories.account(name="Newcomer"), range(3))  # lists the website being watched
        assert shown()["Newcomer"] == 3  # the website is not watched yet, as far as anyone sees
        commit.set()
    assert errors == []
    assert shown() == counted_from_scratch() == {"Acme": 0, "Newcomer": 2}


def test_two_staff_edits_that_each_save_an_account_and_watch_a_website_both_succeed():
    """Each edit saves its account, then watches a website: the second edit waits for the first
    instead of the two deadlocking (one of them a server error)."""
    for name, numbers in (("First", range(3)), ("Second", range(10, 13))):
        listing_of(factories.account(name=name), numbers)
    first_saved, second_saved = threading.Event(), threading.Event()

    def edit(name: str, saved: threading.Event, other_saved: threading.Event | None, number: int) -> None:
        with transaction.atomic():
            account = DataFastAccount.objects.get(name=name)
            account.alert_on_discovery = True
            account.save()
            saved.set()
            if other_saved:
                other_saved.wait(BLOCKED_AFTER)  # the other edit saves its account meanwhile, if it can
            discovery.watch(account, [website(number)])

    def second_edit() -> None:
        first_saved.wait(BLOCKED_AFTER)
        edit("Second", second_saved, None, 10)

    with in_another_connection(second_edit) as errors:
        edit("First", first_saved, second_saved, 0)
    assert errors == []
    assert sorted(DataFastSite.objects.values_list("website_id", flat=True)) == [website(0), website(10)]
    assert shown() == counted_from_scratch() == {"First": 0, "Second": 0}


def test_an_edit_and_a_discovery_of_the_same_account_at_once_both_succeed():
    """A discovery watches websites and then saves the account's listing; a staff edit saves the
    account and then watches a website: opposite orders, and still no deadlock."""
    account = factories.account(name="Acme")
    listing_of(account, range(3))
    discovering, edited = threading.Event(), threading.Event()

    def discovery_like() -> None:
        with transaction.atomic():
            factories.site(website(0), account=DataFastAccount.objects.get(name="Acme"))
            discovering.set()
            edited.wait(BLOCKED_AFTER)  # the edit saves the account meanwhile, if it can
            listing_of(DataFastAccount.objects.get(name="Acme"), range(4))

    with in_another_connection(discovery_like) as errors:
        assert discovering.wait(BLOCKED_AFTER)
        with transaction.atomic():
            account = DataFastAccount.objects.get(name="Acme")
            account.alert_on_discovery = True
            account.save()
            edited.set()
            discovery.watch(account, [website(1)])
    assert errors == []
    assert sorted(DataFastSite.objects.values_list("website_id", flat=True)) == [website(0), website(1)]
    assert shown() == counted_from_scratch()


def test_an_overview_never_waits_for_an_account_saved_in_a_transaction_still_open():
    """Counting and keeping never wait on a row another transaction holds: the page shows the
    count, and the count is kept by a later page."""
    listing_of(factories.account(name="Acme"), range(3))
    listing_of(factories.account(name="Busy"), range(10, 14))
    holding, page_shown = threading.Event(), threading.Event()
    waited_for: list[bool] = []

    def hold_the_account() -> None:
        with transaction.atomic():
            account = DataFastAccount.objects.get(name="Busy")
            account.alert_on_discovery = True
            account.save()
            holding.set()
            waited_for.append(not page_shown.wait(BLOCKED_AFTER))

    with in_another_connection(hold_the_account) as errors:
        assert holding.wait(BLOCKED_AFTER)
        assert shown() == {"Acme": 3, "Busy": 4}
        page_shown.set()
    assert errors == [] and waited_for == [False]
    assert shown() == counted_from_scratch() == {"Acme": 3, "Busy": 4}
    assert all(account.new_websites_version == account.notices_version for account in DataFastAccount.objects.all())


def test_a_discovery_and_an_import_of_the_same_account_at_once_both_succeed():
    """A discovery updates the account's websites from the listing, then saves the listing; an
    import saves the account, then one of its websites: opposite orders over the website's row,
    and still no deadlock (one of them failing with "deadlock detected")."""
    account = factories.account(name="Acme")
    site = factories.site(website(0), account=account)
    applied, imported = threading.Event(), threading.Event()
    listed = Website(
        id=website(0), domain="acme.example", name="Acme", tracking_id="", timezone="UTC", currency="EUR", role="owner"
    )

    def import_like() -> None:
        applied.wait(BLOCKED_AFTER)
        with transaction.atomic():
            row = DataFastAccount.objects.get(name="Acme")
            row.alert_on_discovery = True
            row.save()
            imported.set()
            website_row = DataFastSite.objects.get(pk=site.pk)
            website_row.name_is_custom, website_row.name = True, "Imported"
            website_row.save()

    with in_another_connection(import_like) as errors, transaction.atomic():
        row = DataFastAccount.objects.get(name="Acme")
        assert discovery.apply(row, [listed], now=timezone.now()) == 1
        applied.set()
        imported.wait(BLOCKED_AFTER)  # the import saves the account meanwhile, if it can
        row.set_listing([listed.as_dict()])
        row.save(update_fields=["listed_websites", "listed_website_ids"])
    assert errors == []
    assert DataFastSite.objects.values_list("domain", "name").get() == ("acme.example", "Imported")
