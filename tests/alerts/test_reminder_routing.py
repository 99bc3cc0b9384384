"""Reminders go back to the channels that heard of a problem only while those channels would still
be sent it (their project and narrowing as they are now): real polls, real HTTP to the chat sinks,
only the clock moved."""

from __future__ import annotations

import pytest

from integrations_app.alerts import reminders
from integrations_app.models import Channel, Project
from tests import factories
from tests.alerts import test_acks
from tests.alerts.test_acks import at, break_stripe, email_reminders, reminders_in

pytestmark = pytest.mark.django_db(transaction=True)
start, client_a = test_acks.start, test_acks.client_a  # the fixtures: now, and Client A's sites and chats


def a_chat() -> Channel:
    return Channel.objects.get(name="A's chat")


def test_a_channel_moved_to_another_project_is_not_reminded_of_its_old_projects_problems(
    sandbox, client_a, start, *, chat_sink, other_chat_sink, smtp_sink
):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    assert len(chat_sink.messages()) == 1  # A's chat heard of the disconnect
    Channel.objects.filter(pk=a_chat().pk).update(project=Project.objects.get(name="Client B"))
    with at(start, 4.01):
        assert reminders.send_due() == 1
    assert reminders_in(chat_sink) == [], "Client B's channel now: it hears nothing of Client A"
    assert len(chat_sink.messages()) == 1
    assert other_chat_sink.messages() == []
    assert len(email_reminders(smtp_sink)) == 1, "the admins' email heard of it and is still reminded"


def test_a_channel_no_longer_taking_problems_is_not_reminded(sandbox, client_a, start, chat_sink):
    _project, store, _books = client_a
    break_stripe(sandbox, start, store)
    Channel.objects.filter(pk=a_chat().pk).update(takes_problems=False)
    with at(start, 4.01):
        assert reminders.send_due() == 1
    assert reminders_in(chat_sink) == []
    assert len(chat_sink.messages()) == 1


def test_a_channel_is_reminded_only_of_the_problems_it_still_takes(sandbox, client_a, start, chat_sink):
    _project, store, books = client_a
    everyone = factories.channel(chat_sink.json_url("/everyone"), name="Everyone")
    break_stripe(sandbox, start, store, books)
    assert len(chat_sink.messages("/everyone")) == 1
    Channel.objects.filter(pk=everyone.pk).update(project=Project.objects.get(name="Client B"))
    with at(start, 4.01):
        assert reminders.send_due() == 1
    (reminder,) = reminders_in(chat_sink)
    assert reminder["title"] == "Paystatus: Reminder: 2 open problems in “Client A”, not acknowledged"
    assert [post.path for post in chat_sink.messages()] == ["/a", "/everyone", "/a"]
