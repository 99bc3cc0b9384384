"""Acknowledgements and reminders end to end: real polls of the sandbox over HTTP, real sends to
local chat sinks (Apprise json://) and the SMTP sink, only the clock moved (time_machine)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations_app import tasks
from integrations_app.alerts import changes, reminders
from integrations_app.alerts.delivery import send_pending_alerts
from integrations_app.alerts.policy import follow_up_ended
from integrations_app.datafast.poller import poll_site
from integrations_app.models import (
    Acknowledgement,
    AuditEntry,
    DataFastSite,
    Membership,
    Project,
    ReminderRecord,
    Role,
    Silence,
    StatusChange,
)
from integrations_app.models.history import ChangeKind, Severity
from tests import demo, factories
from tests.concurrency import twice_at_once

pytestmark = pytest.mark.django_db(transaction=True)


def at(start: datetime, hours: float) -> Any:
    return time_machine.travel(start + timedelta(hours=hours), tick=False)


@pytest.fixture
def start() -> datetime:
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def client_a(sandbox, settings, chat_sink, other_chat_sink, smtp_sink) -> tuple[Project, DataFastSite, DataFastSite]:
    """Client A: two websites and its own chat (chat_sink /a); Client B: its own chat, which
    never hears of A's problems (other_chat_sink /b). Reminders every 4 hours by default."""
    settings.REMINDER_HOURS = 4
    project = factories.project("Client A")
    store = factories.site(project=project)
    books = factories.site(demo.BLUEBIRD_BOOKS, "Bluebird Books", project=project)
    factories.channel(chat_sink.json_url("/a"), name="A's chat", project=project)
    factories.channel(other_chat_sink.json_url("/b"), name="B's chat", project=factories.project("Client B"))
    return project, store, books


def break_stripe(sandbox: Any, start: datetime, *sites: DataFastSite, hours: float = 0) -> None:
    """Poll the sites fine, then with Stripe down, and send the alerts: all at `start + hours`."""
    with at(start, hours):
        for site in sites:
            poll_site(site.pk)
            sandbox.state.set_connected(site.website_id, "stripe", False)
            poll_site(site.pk)
        send_pending_alerts(wait=False)


def opener(site: DataFastSite, provider: str = "stripe") -> StatusChange:
    return StatusChange.objects.filter(site=site, provider=provider, severity=Severity.PROBLEM).latest("at", "pk")


def manager_of(project: Project, username: str = "manager") -> Client:
    user = User.objects.create_user(username, password="manager-password-1")
    Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    client = Client()
    client.force_login(user)
    return client


def acks_section(response: Any) -> str:
    """The "Open problems" section of a source page."""
    page: str = response.content.decode()
    return page[page.index('id="acks-section"') :].split("</section>", maxsplit=1)[0]


def reminders_in(sink: Any) -> list[Any]:
    return [post.json for post in sink.messages() if post.json["title"].startswith("Paystatus: Reminder")]


def email_reminders(sink: Any) -> list[Any]:
    return [message for message in sink.messages if str(message["Subject"]).strip().startswith("[Paystatus] Reminder")]


# --- reminders ------------------------------------------------------------------------------------


def test_a_reminder_goes_out_every_n_hours_to_the_channels_that_heard(
    sandbox, client_a, start, *, chat_sink, other_chat_sink, smtp_sink
):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    assert (len(chat_sink.messages()), len(smtp_sink.messages)) == (1, 1)  # the alert itself
    with at(start, 3.9):
        assert reminders.send_due() == 0
    with at(start, 4.01):
        assert reminders.send_due() == 1
        assert reminders.send_due() == 0  # once per period
    with at(start, 7.5):
        assert reminders.send_due() == 0
    with at(start, 8.01):
        assert reminders.send_due() == 1
    (first, second) = reminders_in(chat_sink)
    assert first["title"] == "Paystatus: Reminder: 1 open problem in “Client A”, not acknowledged"
    assert first["message"].startswith(
        f"- Stripe disconnected on Acme Store, open 4 h 0 min: http://testserver/sites/{store.pk}/"
    )
    assert "open 8 h 0 min" in second["message"]
    assert len(chat_sink.messages()) == 3, "the alert and two reminders, nothing else"
    assert len(email_reminders(smtp_sink)) == 2, "the admins' email heard of it: it is reminded too"
    assert other_chat_sink.messages() == [], "another project's channel heard nothing: it gets nothing"
    assert ReminderRecord.objects.count() == 2


@pytest.mark.usefixtures("redis_clean")
def test_the_reminders_are_a_beat_entry(sandbox, client_a, start, chat_sink, settings):
    entry = settings.CELERY_BEAT_SCHEDULE["send-reminders"]
    assert entry["task"] == "integrations_app.tasks.send_reminders"
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 4.01):
        assert tasks.send_reminders() == 1
        assert tasks.send_reminders() == 0
    assert len(reminders_in(chat_sink)) == 1


def test_one_reminder_lists_every_open_problem_of_the_project(sandbox, client_a, start, chat_sink, smtp_sink):
    _project, store, books = client_a
    break_stripe(sandbox, start, store, books)
    with at(start, 0.5):
        sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "lemonsqueezy", False)
        poll_site(books.pk)
        send_pending_alerts(wait=False)
    with at(start, 4.01):
        assert reminders.send_due() == 1
    (reminder,) = reminders_in(chat_sink)
    assert reminder["title"] == "Paystatus: Reminder: 3 open problems in “Client A”, not acknowledged"
    listed = [line for line in reminder["message"].splitlines() if line.startswith("- ")]
    assert [line.split(", open")[0] for line in listed] == [
        "- Stripe disconnected on Acme Store",
        "- Stripe disconnected on Bluebird Books",
        "- Lemon Squeezy disconnected on Bluebird Books",
    ]
    assert len(email_reminders(smtp_sink)) == 1


def test_acknowledging_stops_the_reminders_and_withdrawing_starts_them_again(
    sandbox, client_a, start, chat_sink, smtp_sink
):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    manager = manager_of(project)
    with at(start, 1):
        response = manager.post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "on it, ticket 42"})
        assert response.status_code == 302
    with at(start, 4.01):
        assert reminders.send_due() == 0
    with at(start, 9):
        assert reminders.send_due() == 0
        manager.post(reverse("problem-unack", args=[opener(store).pk]))
        assert reminders.send_due() == 1
    assert len(reminders_in(chat_sink)) == 1
    assert list(AuditEntry.objects.order_by("pk").values_list("action", "project_id")) == [
        ("problem.acknowledge", project.pk),
        ("problem.unacknowledge", project.pk),
    ]


def test_a_reminder_names_the_acknowledged_problems_still_open(sandbox, client_a, start, chat_sink):
    project, store, books = client_a
    break_stripe(sandbox, start, store, books)
    with at(start, 1):
        manager_of(project).post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "on it"})
    with at(start, 4.01):
        assert reminders.send_due() == 1
    (reminder,) = reminders_in(chat_sink)
    assert reminder["title"] == "Paystatus: Reminder: 1 open problem in “Client A”, not acknowledged"
    lines = reminder["message"].splitlines()
    assert lines[0].startswith("- Stripe disconnected on Bluebird Books, open 4 h 0 min")
    assert lines[1] == "Also open, acknowledged (no reminder):"
    assert lines[2].startswith("- Stripe disconnected on Acme Store: acknowledged by manager at ")
    assert lines[2].endswith(": on it")


def test_two_senders_at_once_send_one_reminder(sandbox, client_a, start, chat_sink, smtp_sink):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    now = start + timedelta(hours=4, minutes=1)
    (reminder,) = reminders.due(now)  # both senders found it due: only the claim stands between them
    barrier = threading.Barrier(2)
    claimed: list[bool] = []

    def send() -> None:
        barrier.wait(timeout=10)
        claimed.append(won := reminders.claim(reminder, now))
        if won:
            reminders.deliver(reminder, now)

    twice_at_once(send)
    assert sorted(claimed) == [False, True]
    assert reminders.send_due(now) == 0, "and a beat tick after them finds it sent"
    assert len(reminders_in(chat_sink)) == 1
    assert len(email_reminders(smtp_sink)) == 1
    assert ReminderRecord.objects.count() == 1


def test_finding_due_reminders_takes_the_same_queries_for_more_problems_and_projects(sandbox, client_a, start):
    _project, store, books = client_a
    now = start + timedelta(hours=5)

    def measure() -> int:
        with CaptureQueriesContext(connection) as queries:
            reminders.due(now)
        return len(queries)

    break_stripe(sandbox, start, store)
    few = measure()
    DataFastSite.objects.filter(pk=books.pk).update(project=Project.objects.get(name="Client B"))
    break_stripe(sandbox, start, books, hours=0.1)
    with at(start, 0.2):
        sandbox.state.set_connected(demo.BLUEBIRD_BOOKS, "lemonsqueezy", False)
        poll_site(books.pk)
    assert len(reminders.due(now)) == 2
    assert measure() == few


def test_reminders_are_off_for_a_project_that_says_never(sandbox, client_a, start, chat_sink, settings):
    project, store, _books = client_a
    project.reminder_hours = 0
    project.save()
    break_stripe(sandbox, start, store)
    with at(start, 30):
        assert reminders.send_due() == 0
    project.reminder_hours = 1
    project.save()
    with at(start, 30):
        assert reminders.send_due() == 1, "its own period, not the default's"
    settings.REMINDER_HOURS = 0
    project.reminder_hours = None
    project.save()
    with at(start, 40):
        assert reminders.send_due() == 0, "inherits the default: 0 is never"
    assert len(reminders_in(chat_sink)) == 1


def test_global_sources_use_the_default(sandbox, settings, start, chat_sink, smtp_sink):
    settings.REMINDER_HOURS = 2
    store = factories.site()
    factories.channel(chat_sink.json_url("/everyone"), name="Everyone")
    break_stripe(sandbox, start, store)
    with at(start, 2.01):
        assert reminders.send_due() == 1
    (reminder,) = reminders_in(chat_sink)
    assert reminder["title"] == "Paystatus: Reminder: 1 open problem in sources in no project, not acknowledged"


def test_a_silenced_problem_is_not_reminded_of(sandbox, client_a, start, chat_sink, smtp_sink):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    alice = factories.staff("alice")
    Silence.objects.create(
        site=store,
        starts_at=start + timedelta(hours=1),
        ends_at=start + timedelta(hours=6),
        created_by=alice,
        comment="x",
    )
    with at(start, 4.01):
        assert reminders.send_due() == 0
    with at(start, 6.01):
        assert reminders.send_due() == 1, "once the silence is over, the reminder is due again"
    assert len(reminders_in(chat_sink)) == 1


def test_the_reminder_stops_when_the_problem_recovers(sandbox, client_a, start, chat_sink):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 2):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
        poll_site(store.pk)
    with at(start, 4.01):
        assert reminders.send_due() == 0
    assert reminders_in(chat_sink) == []


def test_a_problem_that_breaks_again_is_unacknowledged(sandbox, client_a, start, chat_sink):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    manager = manager_of(project)
    with at(start, 0.5):
        manager.post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "first"})
    with at(start, 1):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
        poll_site(store.pk)
    with at(start, 2):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", False)
        poll_site(store.pk)
        send_pending_alerts(wait=False)
    page = acks_section(manager.get(reverse("site-detail", args=[store.pk])))
    assert "Not acknowledged" in page and "first" not in page
    with at(start, 6.01):
        assert reminders.send_due() == 1, "the new episode is reminded of, 4 hours after its own alert"
    assert Acknowledgement.objects.count() == 1


# --- the acknowledgement form and who may use it ----------------------------------------------------


def test_the_ack_form_says_what_is_wrong_with_the_comment(sandbox, client_a, start):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    manager = manager_of(project)
    url = reverse("problem-ack", args=[opener(store).pk])
    too_long = manager.post(url, {"comment": "x" * 301})
    assert too_long.status_code == 200
    assert too_long.context["form"].errors == {"comment": ["Keep the comment to 300 characters (it has 301)."]}
    hidden = manager.post(url, {"comment": "fine\u202eevil"})
    assert hidden.context["form"].errors["comment"] == [
        "The text cannot contain control characters or invisible ones (direction marks and similar)."
    ]
    assert Acknowledgement.objects.count() == 0
    manager.post(url, {"comment": "two\nlines  here"})
    assert Acknowledgement.objects.get().comment == "two lines here"


def test_a_recovered_problem_cannot_be_acknowledged(sandbox, client_a, start):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
    with at(start, 1):
        poll_site(store.pk)
    response = manager_of(project).post(reverse("problem-ack", args=[opener(store).pk]), {"comment": ""})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This problem is no longer open: there is nothing to acknowledge."
    ]
    assert Acknowledgement.objects.count() == 0


def test_only_the_change_that_opened_a_problem_names_it(sandbox, client_a, start):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 1):
        poll_site(store.pk)  # still down: nothing new
        later = changes.record_change(
            ChangeKind.STILL_BROKEN,
            Severity.PROBLEM,
            at=timezone.now(),
            old=ChangeKind.PROVIDER,
            site=store,
            provider="stripe",
        )
    response = manager_of(project).post(reverse("problem-ack", args=[later.pk]), {"comment": ""})
    assert response.context["form"].non_field_errors() == [
        "This problem is no longer open: there is nothing to acknowledge."
    ]
    assert Acknowledgement.objects.count() == 0


def test_viewers_get_403_and_other_projects_members_404(sandbox, client_a, start):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    viewer = factories.viewer("a-viewer")
    Membership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    outsider = factories.viewer("b-manager")
    Membership.objects.create(project=Project.objects.get(name="Client B"), user=outsider, role=Role.MANAGER)
    url = reverse("problem-ack", args=[opener(store).pk])
    for user, status in ((viewer, 403), (outsider, 404)):
        client = Client()
        client.force_login(user)
        assert client.post(url, {"comment": "x"}).status_code == status
        assert client.post(reverse("problem-unack", args=[opener(store).pk])).status_code == status
    assert Acknowledgement.objects.count() == 0


# --- shown on the pages --------------------------------------------------------------------------


def test_the_ack_is_shown_on_the_site_page_the_overview_and_the_alerts_page(sandbox, client_a, start):
    project, store, books = client_a
    break_stripe(sandbox, start, store, books)
    manager = manager_of(project)
    manager.post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "on it"})
    site_page = manager.get(reverse("site-detail", args=[store.pk])).content.decode()
    assert "Acknowledged" in site_page and "acknowledged by manager at " in site_page and "on it" in site_page
    assert "Withdraw the acknowledgement" in site_page
    overview = manager.get(reverse("overview")).content.decode()
    assert overview.count('data-acknowledged="') == 1, "Acme Store's badge; Bluebird's problem is not acknowledged"
    alerts = manager.get(reverse("alerts")).content.decode()
    assert "acknowledged by manager at " in alerts
    staff = Client()
    staff.force_login(factories.staff())
    project_page = staff.get(project.get_absolute_url()).content.decode()
    assert project_page.count('data-acknowledged="manager"') == 1, "the project's list of sources shows it too"


def test_a_member_never_sees_another_projects_acknowledgement_on_a_shared_alert(sandbox, client_a, start):
    project_a, store, books = client_a
    project_b = Project.objects.get(name="Client B")
    DataFastSite.objects.filter(pk=books.pk).update(project=project_b)
    break_stripe(sandbox, start, store, books)  # one alert about both
    manager_of(project_b, "b-manager").post(
        reverse("problem-ack", args=[opener(books).pk]), {"comment": "B's secret plan"}
    )
    alerts_page = manager_of(project_a, "a-manager").get(reverse("alerts")).content.decode()
    assert "Stripe disconnected on Acme Store" in alerts_page
    assert "b-manager" not in alerts_page and "B's secret plan" not in alerts_page


def test_the_pages_take_the_same_queries_for_more_acknowledged_problems(sandbox, client_a, start):
    project, store, books = client_a
    manager = manager_of(project)
    pages = [reverse("overview"), reverse("alerts"), reverse("site-detail", args=[store.pk])]

    def measure() -> list[int]:
        manager.get(reverse("overview"))  # shows (and so clears) the flash message of the last POST
        counts = []
        for url in pages:
            with CaptureQueriesContext(connection) as queries:
                assert manager.get(url).status_code == 200
            counts.append(len(queries))
        return counts

    break_stripe(sandbox, start, store)
    manager.post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "one"})
    few = measure()
    break_stripe(sandbox, start, books, hours=0.1)
    with at(start, 0.2):
        sandbox.state.set_connected(demo.ACME_STORE, "paddle", False)
        poll_site(store.pk)
        send_pending_alerts(wait=False)
    for site, provider in ((books, "stripe"), (store, "paddle")):
        manager.post(reverse("problem-ack", args=[opener(site, provider).pk]), {"comment": "more"})
    assert Acknowledgement.objects.count() == 3
    assert measure() == few


# --- shown in the next message ---------------------------------------------------------------------


def test_the_recovery_message_says_who_acknowledged_the_problem_in_chat_and_email(
    sandbox, client_a, start, chat_sink, smtp_sink
):
    project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 1):
        manager_of(project).post(
            reverse("problem-ack", args=[opener(store).pk]), {"comment": "Stripe support ticket 42"}
        )
    with at(start, 2):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
        poll_site(store.pk)
        send_pending_alerts(wait=False)
    recovery = chat_sink.messages()[-1].json
    assert recovery["title"] == "Paystatus: Stripe reconnected on Acme Store"
    when = timezone.localtime(start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M %Z")
    words = f"acknowledged by manager at {when}: Stripe support ticket 42"
    assert recovery["message"] == f"✔ Stripe reconnected on Acme Store ({words}) http://testserver/sites/{store.pk}/"
    email = smtp_sink.messages[-1]
    assert str(email["Subject"]).strip() == "[Paystatus] Stripe reconnected on Acme Store"
    assert f"\r\n  A{words[1:]}\r\n" in email.get_body(("plain",)).get_content()
    assert words in email.get_body(("html",)).get_content()


def test_still_broken_after_the_silence_says_who_acknowledged_it(sandbox, client_a, start, chat_sink):
    project, store, _books = client_a
    alice = factories.staff("alice")
    Silence.objects.create(
        site=store, starts_at=start, ends_at=start + timedelta(hours=2), created_by=alice, comment="deploy"
    )
    break_stripe(sandbox, start, store, hours=0.1)
    with at(start, 1):
        manager_of(project).post(reverse("problem-ack", args=[opener(store).pk]), {"comment": "on it"})
    with at(start, 2.01):
        assert len(follow_up_ended()) == 1
        send_pending_alerts(wait=False)
    (message,) = chat_sink.messages()
    assert message.json["title"].startswith("Paystatus: Still broken after the silence: Stripe on Acme Store")
    assert "(acknowledged by manager at " in message.json["message"] and ": on it)" in message.json["message"]


def test_a_message_about_an_unacknowledged_problem_says_nothing_of_acknowledgements(
    sandbox, client_a, start, chat_sink
):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 2):
        sandbox.state.set_connected(demo.ACME_STORE, "stripe", True)
        poll_site(store.pk)
        send_pending_alerts(wait=False)
    assert "acknowledged" not in chat_sink.messages()[-1].json["message"]


@pytest.mark.usefixtures("redis_clean")
def test_a_second_reminder_run_while_one_runs_sends_nothing(sandbox, client_a, start, chat_sink):
    """The claim is per (anchor, period): two runs either side of a period's end, or either side of an
    acknowledgement of the anchor, would claim two different slots. Runs therefore take one lock,
    so the second finds the first's record when it reads the scope's last reminder."""
    from integrations_app.polling.locks import exclusive

    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    with at(start, 4.01):
        with exclusive("reminders", timeout=60) as mine:
            assert mine
            assert tasks.send_reminders() == 0, "another run holds the reminders"
        assert reminders_in(chat_sink) == []
        assert tasks.send_reminders() == 1
    assert len(reminders_in(chat_sink)) == 1
