"""The overview as the eye meets it: it fits at laptop, desktop and phone widths, keeps focus
across a live refresh, follows the dark theme, and passes an automated accessibility check."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from integrations_app.datafast.poller import poll_site
from integrations_app.models import DataFastSite
from tests import demo

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]

# How far the main table sticks out of its box (its scroll area) and the page out of the window.
OVERFLOW = """() => {
  const box = document.querySelector('#websites-table');
  const table = box.querySelector('table');
  return {table: table.scrollWidth - box.clientWidth, page: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("width", [1366, 1920])
def test_the_overview_fits_a_laptop_and_a_desktop(page: Page, log_in, viewer_user, screenshot, width):
    page.set_viewport_size({"width": width, "height": 900})
    log_in(viewer_user)
    overflow = page.evaluate(OVERFLOW)
    assert overflow["table"] <= 0 and overflow["page"] <= 0, overflow
    # Every column is in view, "Last polled" last of all, and every demo website is listed.
    last_polled = page.get_by_role("columnheader", name="Last polled")
    expect(last_polled).to_be_in_viewport()
    box = last_polled.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width
    assert page.locator("#websites-table tbody tr").count() == DataFastSite.objects.count() == 13
    # Problems come first: the first row has one, the last is fine.
    badges = page.locator("#websites-table tbody [data-problem]")
    statuses = badges.evaluate_all("els => els.map(e => e.dataset.problem)")
    assert statuses[0] != "ok" and statuses[-1] in ("ok", "paused", "pending")
    screenshot(f"overview-{width}")


def test_the_overview_fits_a_phone(page: Page, log_in, viewer_user, screenshot):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(viewer_user)
    overflow = page.evaluate(OVERFLOW)
    # On a phone the table scrolls inside its own box; the page itself never scrolls sideways.
    assert overflow["page"] <= 0, overflow
    # The navigation collapses behind a button, and so do the filters.
    expect(page.get_by_role("link", name="Alerts")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.get_by_role("link", name="Alerts")).to_be_visible()
    expect(page.get_by_label("Search by name")).to_be_hidden()
    page.get_by_role("button", name="Filters").click()
    expect(page.get_by_label("Search by name")).to_be_visible()
    screenshot("overview-390")


def test_a_long_name_is_cut_with_the_whole_name_on_hover(page: Page, log_in, viewer_user):
    site = DataFastSite.objects.get(website_id=demo.BLUEBIRD_BOOKS)
    site.name = "Bluebird-" + "x" * 91  # the longest a name may be (100), with no space to break at
    site.save(update_fields=["name"])
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(viewer_user)
    link = page.get_by_role("link", name=site.name)
    assert link.get_attribute("title") == site.name
    assert page.evaluate(OVERFLOW)["table"] <= 0
    assert link.evaluate("el => el.scrollWidth > el.clientWidth"), "the name is cut with an ellipsis"


def test_the_live_refresh_keeps_focus_scroll_and_announces_only_a_summary(
    page: Page, log_in, viewer_user, sandbox, settings
):
    settings.OVERVIEW_REFRESH_SECONDS = 1
    page.set_viewport_size({"width": 1366, "height": 500})
    log_in(viewer_user)
    # Only the short summary line is a live region, not the tables.
    assert page.locator("[aria-live]").count() == 1
    assert page.locator("[aria-live] table").count() == 0
    link = page.get_by_role("link", name="Bluebird Books")
    link.focus()
    page.evaluate("window.scrollTo(0, 300)")
    scrolled = page.evaluate("window.scrollY")
    before = page.locator("[data-count=disconnected]").inner_text()
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(DataFastSite.objects.get(website_id=demo.ACME_STORE).pk)
    expect(page.locator("[data-count=disconnected]")).not_to_have_text(before, timeout=5000)
    page.wait_for_function("document.querySelector('#live').dataset.refreshedAt")
    assert page.evaluate("document.activeElement.textContent") == "Bluebird Books"
    assert page.evaluate("window.scrollY") == scrolled
    expect(page.get_by_text("Updated")).to_contain_text(" s ago")


def test_a_website_page_refreshes_itself_after_a_change(page: Page, log_in, viewer_user, sandbox, settings):
    settings.OVERVIEW_REFRESH_SECONDS = 1
    site = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    log_in(viewer_user)
    page.goto(page.url.removesuffix("/") + site.get_absolute_url())
    page.evaluate("window.notReloaded = true")
    expect(page.locator("#live-summary")).not_to_contain_text("disconnected")
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(site.pk)
    expect(page.locator("#source-status")).to_contain_text("Stripe disconnected", timeout=5000)
    expect(page.locator("#live-summary")).to_contain_text("Stripe disconnected")
    assert page.evaluate("window.notReloaded") is True
