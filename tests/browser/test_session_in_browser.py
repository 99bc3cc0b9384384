"""What the overview's live refresh does when the session behind it has gone."""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


@pytest.mark.usefixtures("live_server")
def test_an_expired_session_reloads_to_the_login_page_instead_of_nesting_it(page: Page, log_in, viewer_user, settings):
    settings.OVERVIEW_REFRESH_SECONDS = 1
    log_in(viewer_user)
    expect(page.locator("#live")).to_have_count(1)
    Session.objects.all().delete()  # the session expires on the server, as after SESSION_COOKIE_AGE
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/"), timeout=6000)
    expect(page.get_by_role("heading", name="Log in to Paystatus")).to_have_count(1)
    expect(page.locator("#live")).to_have_count(0)
