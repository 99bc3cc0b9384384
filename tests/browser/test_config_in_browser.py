"""Configuration as code in a real browser: download the file, add a website to it, upload it,
read the preview, apply it, and find the new website on the overview."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from integrations_app.config import yamlio
from integrations_app.models import AuditEntry, DataFastAccount, DataFastSite
from tests.browser.test_accessibility_in_browser import AXE, SERIOUS

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]
CORNER_SHOP = "0123456789abcdef01234567"


def test_staff_upload_a_file_see_the_preview_apply_it_and_see_the_new_website(
    page: Page, live_server, log_in, tmp_path: Path, *, staff_user, screenshot
):
    page.add_init_script(path=str(AXE))
    log_in(staff_user)
    page.get_by_role("link", name="Configuration").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download configuration").click()
    document = yaml.safe_load(Path(download.value.path()).read_text(encoding="utf-8"))
    account = DataFastAccount.objects.order_by("pk").first()
    assert account is not None and document["version"] == 1
    document["websites"].append({"website_id": CORNER_SHOP, "name": "Corner Shop", "account": account.name})
    edited = tmp_path / "paystatus.yaml"
    edited.write_text(yamlio.dump(document), encoding="utf-8")

    page.get_by_label("Configuration file").set_input_files(str(edited))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#config-summary")).to_have_text(
        "Dry run: would add 1, change 0, remove 0; nothing was changed."
    )
    expect(page.locator("#config-add")).to_contain_text(f"website “Corner Shop” ({CORNER_SHOP})")
    screenshot("config-preview")
    assert page.evaluate(SERIOUS) == []
    assert not DataFastSite.objects.filter(website_id=CORNER_SHOP).exists()

    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("Imported: added 1, changed 0, removed 0.")).to_be_visible()
    assert AuditEntry.objects.filter(action="config.import").count() == 1
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("#websites-table")).to_contain_text("Corner Shop")
    screenshot("config-applied-overview")
