"""An agency's setup from scratch, in a real browser, each step as a new user takes it: three
clients as three projects, each with its own chat channel (a real webhook sink) and one member.
A disconnect on client B's website then reaches B's channel and the global email, and nobody else."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.datafast.poller import poll_site
from integrations_app.models import Channel, DataFastSite, Project
from tests import demo
from tests.browser.conftest import PASSWORDS
from tests.chat_sink import ChatSink

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("demo_data")]

CLIENTS = [
    ("Client A", demo.ACME_STORE, "alice"),
    ("Client B", demo.BLUEBIRD_BOOKS, "bob"),
    ("Client C", demo.DELTA_DESIGN, "carol"),
]


@pytest.fixture
def sinks() -> Iterator[dict[str, ChatSink]]:
    started = {name: ChatSink().start() for name, _, _ in CLIENTS}
    yield started
    for sink in started.values():
        sink.stop()


@pytest.fixture
def members(staff_user: User) -> dict[str, User]:
    """The clients' people have accounts (made by whoever runs the dashboard, as for any user)."""
    made = {}
    for _, _, username in CLIENTS:
        PASSWORDS.setdefault(username, f"{username}-password-1")
        made[username] = User.objects.create_user(username, password=PASSWORDS[username])
    return made


def set_up_client(page: Page, base: str, *, name: str, website_id: str, member: str, sink: ChatSink) -> None:
    page.get_by_role("link", name="Projects").click()
    page.get_by_role("link", name="Create a project").first.click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Time zone").fill("Europe/London")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("heading", name=re.compile(f"^{name}"))).to_be_visible()

    page.get_by_label("Username").fill(member)
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_text(f"Added {member} to “{name}” as a viewer.")).to_be_visible()

    site = DataFastSite.objects.get(website_id=website_id)
    page.goto(f"{base}{site.get_absolute_url()}")
    page.get_by_label("Move to project").select_option(label=name)
    page.get_by_role("button", name="Save project").click()
    expect(page.get_by_text(f"Moved “{site.name}” to the project “{name}”.")).to_be_visible()

    page.get_by_role("link", name="Channels").click()
    page.get_by_role("link", name="Add a channel").first.click()
    page.get_by_label(re.compile("^Name")).fill(f"{name} chat")
    page.get_by_label("Project").select_option(label=name)
    page.get_by_label(re.compile("^Kind")).select_option("apprise")
    page.get_by_label("Apprise URL").fill(sink.json_url())
    page.get_by_role("button", name="Add channel").click()
    expect(page.get_by_text(f"Saved the channel “{name} chat”.", exact=False)).to_be_visible()
    page.get_by_role("button", name="Send test message").click()
    expect(page.locator(".alert-success")).to_be_visible()
    assert len(sink.received) == 1, "the test message reached the client's chat"


def test_three_clients_and_a_disconnect_reaches_only_its_clients_channel(
    page: Page, live_server, log_in, *, sandbox, smtp_sink, sinks, members, staff_user, screenshot
):
    # From scratch: no project and no channel yet (the demo ships some of both).
    Project.objects.all().delete()
    Channel.objects.all().delete()

    log_in(staff_user)
    for name, website_id, member in CLIENTS:
        set_up_client(page, live_server.url, name=name, website_id=website_id, member=member, sink=sinks[name])
    screenshot("agency-channels")

    sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "stripe", False)
    poll_site(DataFastSite.objects.get(website_id=demo.BLUEBIRD_BOOKS).pk)
    send_pending_alerts(wait=False)

    told = sinks["Client B"].received[1:]
    assert len(told) == 1, "one message for client B's disconnect"
    assert "Stripe disconnected on Bluebird Books" in told[0].text
    assert [len(sinks[name].received) for name in ("Client A", "Client C")] == [1, 1], "only their test messages"
    (email,) = smtp_sink.messages
    assert "Stripe disconnected on Bluebird Books" in email["Subject"]

    page.get_by_role("button", name="Log out").click()
    log_in(members["bob"])
    websites = page.locator("#websites-table tbody")
    expect(websites.locator("tr")).to_have_count(1)
    expect(websites).to_contain_text("Bluebird Books")
    screenshot("agency-client-b-member")
