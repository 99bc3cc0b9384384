"""Managing CUSTOM_ORDERS integrations in a real browser, as staff and as a viewer."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations_app.models import Integration, Organisation
from tests import demo
from tests.factories import present

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]


@pytest.fixture
def staff_page(page: Page, log_in, staff_user) -> Page:
    log_in(staff_user)
    return page


def test_staff_create_fix_a_bad_merchant_then_rename_and_disable(staff_page: Page, live_server, sandbox, screenshot):
    page = staff_page
    acme = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    page.goto(f"{live_server.url}/organisations/{acme.pk}/")
    page.get_by_role("link", name="Create a CUSTOM_ORDERS integration").click()
    expect(page.get_by_role("heading", name="Create a CUSTOM_ORDERS integration")).to_be_visible()
    page.get_by_label("API key").select_option(label="Northwind Partners (admin group)")
    page.get_by_label("Organisation").select_option(demo.ACME_ORG)
    page.get_by_label("Name").fill("Checkout orders")
    # A merchant of another organisation: only ChargebackStop can tell, and says so on the field.
    page.get_by_label("Merchant IDs", exact=True).fill("mrch_acme_us, mrch_cedar_01")
    page.get_by_role("button", name="Create integration").click()
    expect(page.get_by_text(re.compile("do not exist or do not belong to this organisation"))).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Checkout orders")
    screenshot("create-integration-error")

    page.get_by_label("Merchant IDs", exact=True).fill("")
    page.get_by_role("button", name=re.compile("mrch_acme_eu")).click()  # a known merchant, offered as a chip
    expect(page.get_by_label("Merchant IDs", exact=True)).to_have_value("mrch_acme_eu")
    page.get_by_role("button", name="Create integration").click()
    expect(page.get_by_role("heading", name="Checkout orders")).to_be_visible()
    created = Integration.objects.get(name="Checkout orders")
    assert [item["name"] for item in sandbox.state.integrations(demo.ACME_ORG)].count("Checkout orders") == 1
    screenshot("integration")

    page.get_by_role("link", name="Rename").click()
    page.get_by_label("New name").fill("Checkout orders EU")
    page.get_by_role("button", name="Rename").click()
    expect(page.get_by_role("heading", name="Checkout orders EU")).to_be_visible()
    assert sandbox.state.integration(created.integration_id)["name"] == "Checkout orders EU"

    page.get_by_role("link", name=re.compile("^Disable")).click()
    expect(page.get_by_text(re.compile("cannot re-enable"))).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disable integration").click()
    expect(page.get_by_text("Disabled").first).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^Disable"))).to_have_count(0)
    assert sandbox.state.integration(created.integration_id)["status"] == "DISABLED"
    screenshot("integration-disabled")


def test_cancelling_the_confirmation_disables_nothing(staff_page: Page, live_server, sandbox):
    page = staff_page
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    page.goto(f"{live_server.url}/integrations/{integration.pk}/disable/")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Disable integration").click()
    expect(page).to_have_url(re.compile(r"/disable/$"))
    assert sandbox.state.integration(demo.ACME_ORDERS)["status"] == "ENABLED"


def test_a_viewer_sees_no_management_buttons_and_gets_403_by_url(page: Page, log_in, viewer_user, live_server):
    log_in(viewer_user)
    integration = Integration.objects.get(integration_id=demo.ACME_ORDERS)
    page.goto(f"{live_server.url}/integrations/{integration.pk}/")
    expect(page.get_by_role("heading", name="Acme Orders API")).to_be_visible()
    expect(page.get_by_role("link", name="Rename")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^Disable"))).to_have_count(0)
    for path in [
        f"/integrations/{integration.pk}/disable/",
        f"/integrations/{integration.pk}/rename/",
        "/integrations/new/",
    ]:
        response = page.goto(live_server.url + path)
        assert present(response).status == 403, path
