"""Silencing a website in a real browser: "for 2 hours" from its page, seen on the Silences page,
ended early there."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from integrations_app.models import AuditEntry, DataFastSite, Silence
from tests import demo

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]


def test_staff_silence_a_website_for_2_hours_from_its_page_and_end_it_early(
    page: Page, live_server, log_in, staff_user, screenshot
):
    log_in(staff_user)
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    page.goto(live_server.url + acme.get_absolute_url())
    mutes = page.locator("#mutes-section")
    expect(mutes).to_contain_text("Nothing holds its alerts back.")
    mutes.get_by_role("link", name="Silence…").click()
    expect(page.get_by_role("heading", name="Silence Acme Store")).to_be_visible()
    page.get_by_label("For 2 hours").check()
    page.get_by_label("Comment").fill("Stripe account migration")
    page.get_by_role("button", name="Silence", exact=True).click()

    page.wait_for_url(live_server.url + "/silences/")
    expect(page.get_by_text(re.compile(r"^Silenced Acme Store until "))).to_be_visible()
    active = page.get_by_role("table", name="Active silences")
    row = active.get_by_role("row").filter(has_text="Acme Store")
    expect(row).to_contain_text("Stripe account migration")
    expect(row).to_contain_text(staff_user.username)
    silence = Silence.objects.get()
    assert (silence.site, silence.ends_at - silence.starts_at) == (acme, timedelta(hours=2))
    screenshot("silences-active")

    page.goto(live_server.url + acme.get_absolute_url())
    expect(page.locator("#mutes-section")).to_contain_text("Silenced Acme Store until")

    page.goto(live_server.url + "/silences/")
    page.get_by_role("button", name="End now the silence of Acme Store").click()
    expect(page.get_by_text("Ended the silence of Acme Store.")).to_be_visible()
    expect(page.get_by_text("No silence is active.")).to_be_visible()
    ended = page.get_by_role("table", name="Recently ended silences")
    expect(ended.get_by_role("row").filter(has_text="Acme Store")).to_contain_text(
        f"ended early by {staff_user.username}"
    )
    assert Silence.objects.get().ended_early_at is not None
    assert list(
        AuditEntry.objects.filter(action__startswith="silence.").values_list("action", flat=True).order_by("pk")
    ) == [
        "silence.create",
        "silence.end",
    ]
