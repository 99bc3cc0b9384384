"""Acknowledging a problem in a real browser: a project's manager acknowledges Acme Store's Stripe
disconnect from the website's page, with a comment, and sees the badge there and on the overview."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations_app.datafast.poller import poll_site
from integrations_app.models import Acknowledgement, AuditEntry, DataFastSite, Membership, Role
from tests import demo
from tests.browser.test_accessibility_in_browser import AXE, SERIOUS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]


def test_a_manager_acknowledges_a_problem_from_a_website_page_and_sees_the_badge(
    page: Page, live_server, log_in, viewer_user, *, sandbox, screenshot
):
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    assert acme.project is not None
    Membership.objects.create(project=acme.project, user=viewer_user, role=Role.MANAGER)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
    poll_site(acme.pk)

    page.add_init_script(path=str(AXE))
    log_in(viewer_user)
    page.goto(live_server.url + acme.get_absolute_url())
    assert page.evaluate(SERIOUS) == []
    section = page.locator("#acks-section")
    problem = section.locator("[data-problem-ack]").filter(has_text="Stripe disconnected on Acme Store")
    expect(problem).to_contain_text("Not acknowledged")
    problem.get_by_label("Comment").fill("Talking to Stripe support")
    problem.get_by_role("button", name="Acknowledge").click()

    page.wait_for_url(live_server.url + acme.get_absolute_url())
    expect(page.get_by_text("Stripe disconnected on Acme Store: acknowledged by viewer at")).to_be_visible()
    problem = page.locator("#acks-section [data-problem-ack]").filter(has_text="Stripe disconnected on Acme Store")
    expect(problem).to_contain_text("Acknowledged")
    expect(problem).to_contain_text("Talking to Stripe support")
    expect(problem.get_by_role("button", name="Withdraw the acknowledgement")).to_be_visible()
    assert page.evaluate(SERIOUS) == [], "the acknowledged problem and its button pass axe too"
    screenshot("acknowledged-site")

    page.goto(live_server.url + "/")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Acme Store", exact=True))
    badge = row.locator('[data-acknowledged="viewer"]')
    expect(badge).to_be_visible()
    expect(badge).to_have_attribute("title", re.compile(r"^acknowledged by viewer at .+: Talking to Stripe support$"))
    ack = Acknowledgement.objects.get()
    assert (ack.username, ack.comment) == ("viewer", "Talking to Stripe support")
    assert AuditEntry.objects.filter(action="problem.acknowledge", project=acme.project).count() == 1
