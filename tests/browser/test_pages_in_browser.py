"""Reading pages in a real browser: login, overview, a website, phone width, accessibility."""

from __future__ import annotations

import itertools
import re

import pytest
from playwright.sync_api import Page, expect

from integrations_app.datafast.poller import poll_site
from integrations_app.models import DataFastSite
from tests import demo

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]

LABELLESS_INPUTS = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && !el.hidden)
  .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.name || el.id)"""
HEADING_LEVELS = "() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => Number(h.tagName[1]))"


def assert_accessible_basics(page: Page) -> None:
    assert page.evaluate(LABELLESS_INPUTS) == []
    levels = page.evaluate(HEADING_LEVELS)
    assert levels[0] == 1 and levels.count(1) == 1, levels
    for previous, current in itertools.pairwise(levels):
        assert current <= previous + 1, f"heading levels skip: {levels}"


def test_a_viewer_logs_in_and_reads_the_overview(page: Page, log_in, viewer_user, live_server, screenshot):
    page.goto(live_server.url + "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    log_in(viewer_user)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_role("link", name="Acme Store")).to_be_visible()
    expect(page.get_by_role("link", name="Acme Retail Group")).to_be_visible()
    # The demo website nobody may read shows a credential problem, in words.
    expect(page.locator("[data-count=credential_rejected]")).to_have_text("1")
    expect(page.locator("tbody").get_by_text("Credential rejected").first).to_be_visible()
    assert_accessible_basics(page)
    screenshot("overview")


def test_the_overview_filters_and_searches(page: Page, log_in, viewer_user, live_server):
    log_in(viewer_user)
    page.get_by_label("Search by name").fill("bluebird")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Bluebird Books")).to_be_visible()
    expect(page.get_by_role("link", name="Acme Store")).to_have_count(0)
    page.get_by_role("link", name="Reset").click()
    page.get_by_label("Provider").select_option("shopify")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="Cedar Coffee Roasters")).to_be_visible()
    expect(page.get_by_role("link", name="Bluebird Books")).to_have_count(0)


@pytest.mark.usefixtures("live_server")
def test_the_overview_refreshes_itself_without_a_reload(page: Page, log_in, viewer_user, sandbox, settings):
    settings.OVERVIEW_REFRESH_SECONDS = 1
    log_in(viewer_user)
    counter = page.locator("[data-count=disconnected]")
    before = int(counter.inner_text())
    page.evaluate("window.notReloaded = true")
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(DataFastSite.objects.get(website_id=demo.ACME_STORE).pk)
    expect(counter).to_have_text(str(before + 1), timeout=5000)
    assert page.evaluate("window.notReloaded") is True


def test_a_website_page_shows_providers_timeline_and_history(page: Page, log_in, viewer_user, live_server, screenshot):
    log_in(viewer_user)
    page.get_by_role("link", name="Acme Store").click()
    expect(page.get_by_role("heading", name="Acme Store", level=1)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Stripe, last 30 days"))).to_be_visible()
    expect(page.get_by_text(re.compile(r"in \d+ days")).first).to_be_visible()
    assert_accessible_basics(page)
    screenshot("website")


def test_pages_fit_a_phone(page: Page, log_in, viewer_user, live_server, screenshot):
    page.set_viewport_size({"width": 375, "height": 800})
    log_in(viewer_user)
    for path in ["/", f"/sites/{DataFastSite.objects.get(website_id=demo.ACME_STORE).pk}/", "/alerts/"]:
        page.goto(live_server.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at phone width"
    screenshot("alerts-phone")


def test_keyboard_focus_is_visible(page: Page, log_in, viewer_user, live_server):
    log_in(viewer_user)
    page.keyboard.press("Tab")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused not in ("none", "")
