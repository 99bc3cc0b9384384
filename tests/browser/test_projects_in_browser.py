"""Projects in a real browser: staff set one up, its member then sees only its sources."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from integrations_app.models import AuditEntry, DataFastSite, Membership, Organisation, Project
from tests import demo

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]


def test_staff_set_up_a_project_and_its_member_sees_only_its_sources(
    page: Page, live_server, log_in, *, staff_user, viewer_user, screenshot
):
    log_in(staff_user)
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Create a project").first.click()
    page.get_by_label("Name").fill("Client A")
    page.get_by_label("Time zone").fill("Europe/Paris")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile("^Client A"))).to_be_visible()

    page.get_by_label("Username").fill("viewer")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text("Added viewer to “Client A” as a viewer.")).to_be_visible()
    expect(page.locator("#project-members")).to_contain_text("viewer")

    # One website from its own page...
    acme = DataFastSite.objects.get(website_id=demo.ACME_STORE)
    page.goto(f"{live_server.url}{acme.get_absolute_url()}")
    page.get_by_label("Move to project").select_option(label="Client A")
    page.get_by_role("button", name="Save project").click()
    expect(page.get_by_text("Moved “Acme Store” to the project “Client A”.")).to_be_visible()

    # ...and a website and an organisation ticked on the overview.
    page.goto(f"{live_server.url}/")
    page.get_by_label("Select Bluebird Books").check()
    acme_retail = Organisation.objects.get(organisation_id=demo.ACME_ORG)
    page.get_by_label(f"Select {acme_retail}").check()
    page.get_by_label("Move the selected rows to").select_option(label="Client A")
    page.get_by_role("button", name="Move to project").click()
    expect(page.get_by_text("Moved 1 website and 1 organisation to the project “Client A”.")).to_be_visible()
    screenshot("projects-overview-move")

    project = Project.objects.get(name="Client A")
    assert set(project.sites.values_list("name", flat=True)) == {"Acme Store", "Bluebird Books"}
    assert Membership.objects.filter(project=project, user=viewer_user).exists()
    assert AuditEntry.objects.filter(action="project.assign", project=project).count() == 3

    page.get_by_role("button", name="Log out").click()
    log_in(viewer_user)
    websites = page.locator("#websites-table tbody")
    expect(websites.locator("tr")).to_have_count(2)
    expect(websites).to_contain_text("Acme Store")
    expect(websites).to_contain_text("Bluebird Books")
    organisations = page.locator("#organisations-table tbody")
    expect(organisations.locator("tr")).to_have_count(1)
    expect(organisations).to_contain_text(str(acme_retail))
    expect(page.get_by_role("link", name="Projects")).to_have_count(0)
    expect(page.locator("#move-form")).to_have_count(0)
    screenshot("projects-member-overview")

    other = DataFastSite.objects.exclude(project=project).first()
    assert other is not None
    response = page.goto(f"{live_server.url}{other.get_absolute_url()}")
    assert response is not None and response.status == 404
