"""Browser tests: Playwright driving Debian's Chromium against Django's live server."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from playwright.sync_api import Page

from integrations_app.chargebackstop.poller import poll_key
from integrations_app.datafast.poller import poll_site
from integrations_app.models import ChargebackStopKey, DataFastSite
from tests import factories

# Playwright's sync API runs an event loop in this thread; Django must still allow ORM calls here.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "screenshots"
PASSWORDS = {"staff": "staff-password-1", "viewer": "viewer-password-1"}


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `apt-get install chromium` (.ci/run does it)")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """Keep a picture of a page as a test artefact (test-artifacts/screenshots/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def demo_data(sandbox: Any, redis_clean: Any, transactional_db: None) -> None:
    """The demo credentials, polled once, as a person running `make run` would see them."""
    call_command("load_demo", stdout=io.StringIO())
    for pk in DataFastSite.objects.values_list("pk", flat=True):
        poll_site(pk)
    for pk in ChargebackStopKey.objects.values_list("pk", flat=True):
        poll_key(pk)


@pytest.fixture
def log_in(page: Page, live_server: Any) -> Callable[[User], None]:
    def as_user(user: User) -> None:
        page.goto(live_server.url + "/accounts/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORDS[user.username])
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(live_server.url + "/")

    return as_user


@pytest.fixture
def staff_user(transactional_db: None) -> User:
    return factories.staff()


@pytest.fixture
def viewer_user(transactional_db: None) -> User:
    return factories.viewer()
