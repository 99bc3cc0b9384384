"""Onboarding by name in a real browser, from an empty dashboard: paste a DataFast token, see its
websites by name, tick some, save, and see them on the overview after their first poll; paste a
partner key, confirm a suggested link, and see the organisation's integrations on the website's
page. Nobody types an ID."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import ChargebackStopKey, DataFastSite
from tests import demo

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("sandbox", "redis_clean")]
WATCHED = ["Acme Store", "Acme Outlet", "Bluebird Books"]


def poll_everything() -> None:
    """The first poll, as the worker would run it (the other browser tests poll the same way)."""
    for pk in DataFastSite.objects.values_list("pk", flat=True):
        poll_site(pk)
    for pk in ChargebackStopKey.objects.values_list("pk", flat=True):
        poll_key(pk)


def test_a_token_and_a_partner_key_and_nothing_else(
    page: Page, log_in: Any, staff_user: User, live_server: Any, screenshot: Any
) -> None:
    base = live_server.url
    log_in(staff_user)
    page.goto(f"{base}/credentials/")
    page.get_by_role("link", name="Add an account").click()
    page.get_by_label("Name").fill("Acme")
    page.get_by_label("Token").fill(demo.DATAFAST_TOKEN.reveal())
    page.get_by_role("button", name="Add DataFast account").click()

    # The token's websites by name and domain, all ticked.
    expect(page.get_by_text("The token lists 9 websites.", exact=False).first).to_be_visible()
    boxes = page.locator('input[name="website_ids"]')
    expect(boxes).to_have_count(9)
    for index in range(9):
        expect(boxes.nth(index)).to_be_checked()
    expect(page.get_by_role("row", name=re.compile("Acme Outlet.*outlet.acme-store.example"))).to_be_visible()
    for index in range(9):
        box = boxes.nth(index)
        label = page.locator(f'label[for="{box.get_attribute("id")}"]').inner_text()
        if label not in WATCHED:
            box.uncheck()
    screenshot("onboarding-websites")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Now watching 3 more websites", exact=False)).to_be_visible()
    assert set(DataFastSite.objects.values_list("name", flat=True)) == set(WATCHED)

    poll_everything()
    page.goto(f"{base}/")
    websites = page.locator("#live table").first
    for name in WATCHED:
        expect(websites.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(websites.get_by_text("Not polled yet")).to_have_count(0)
    expect(page.get_by_text("new websites on Acme's token")).to_have_count(0)  # the rest set aside

    # A partner key: its organisations by name, with those that have no integration yet.
    page.goto(f"{base}/credentials/keys/new/")
    page.get_by_label("Name").fill("Northwind")
    page.get_by_label("Level").select_option("partner")
    page.get_by_label("API key").fill(demo.PARTNER_KEY.reveal())
    page.get_by_role("button", name="Add ChargebackStop key").click()
    expect(page.get_by_text("Organisations: 5 organisations listed", exact=False)).to_be_visible()
    poll_everything()

    # Confirm the suggested link of Acme Store and Acme Retail Group (named by the listing).
    page.goto(f"{base}/links/")
    page.get_by_role("button", name="Link Acme Store to Acme Retail Group").click()
    expect(page.get_by_role("button", name="Link Acme Store to Acme Retail Group")).to_have_count(0)
    page.goto(f"{base}{DataFastSite.objects.get(name='Acme Store').get_absolute_url()}")
    client = page.locator("#client-section")
    expect(client.get_by_role("link", name="Acme Retail Group")).to_be_visible()
    expect(client.get_by_role("link", name="Acme Orders API")).to_be_visible()
    expect(client.get_by_role("link", name="Acme Stripe")).to_be_visible()
    screenshot("onboarding-linked-website")
