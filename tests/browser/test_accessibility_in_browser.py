"""Every main page through axe-core (vendored in tests/browser/vendor/, injected from disk: no
CDN), in the light and the dark theme, with no serious or critical violation; and the dark theme
itself: it follows the system, and the toggle overrides it for this browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from integrations_app.models import ChargebackStopKey, DataFastSite, Integration, Membership, Organisation, Project
from tests import demo, factories
from tests.factories import present

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SERIOUS = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => `${v.id}: ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`);
}"""
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def main_pages() -> list[str]:
    project, _ = Project.objects.get_or_create(name="Client A")
    if not project.memberships.exists():
        Membership.objects.create(project=project, user=factories.viewer("member"))
    return [
        "/",
        DataFastSite.objects.get(website_id=demo.ACME_STORE).get_absolute_url(),
        DataFastSite.objects.get(website_id=demo.NIMBUS_LABS).get_absolute_url(),
        present(ChargebackStopKey.objects.order_by("pk").first()).get_absolute_url(),
        Organisation.objects.get(organisation_id=demo.ACME_ORG).get_absolute_url(),
        Integration.objects.get(integration_id=demo.ACME_ORDERS).get_absolute_url(),
        "/alerts/",
        "/audit/",
        "/credentials/",
        "/config/",
        "/integrations/new/",
        "/projects/",
        project.get_absolute_url(),
        "/projects/new/",
        "/silences/",
        f"/silences/new/?site={DataFastSite.objects.get(website_id=demo.ACME_STORE).pk}",
        "/maintenance/new/",
        "/no-such-page/",
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_main_page_passes_axe(page: Page, log_in, staff_user, screenshot, scheme):
    page.add_init_script(path=str(AXE))
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(staff_user)
    base = page.url.removesuffix("/")
    found = {}
    for path in main_pages():
        page.goto(base + path)
        violations = page.evaluate(SERIOUS)
        if violations:
            found[path] = violations
    assert found == {}, "\n".join(f"{path}: {v}" for path, vs in found.items() for v in vs)
    page.goto(base + main_pages()[4])
    screenshot(f"organisation-{scheme}")
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    assert page.evaluate(SERIOUS) == []


def test_the_dark_theme_follows_the_system_and_the_toggle_overrides_it(
    page: Page, log_in, viewer_user, live_server, screenshot
):
    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 1366, "height": 900})
    log_in(viewer_user)
    assert page.evaluate("document.documentElement.dataset.bsTheme") == "dark"
    dark = page.evaluate(BACKGROUND)
    screenshot("overview-dark")
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "true")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "false")
    assert page.evaluate("document.documentElement.dataset.bsTheme") == "light"
    page.reload()  # remembered in this browser, over the system's preference
    assert page.evaluate("document.documentElement.dataset.bsTheme") == "light"
    assert page.evaluate(BACKGROUND) != dark
